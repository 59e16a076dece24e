"""The documentation agrees with the code it documents."""

from __future__ import annotations

import re
from pathlib import Path

from gplvm.evaluate.record import field_names

ROOT = Path(__file__).resolve().parents[1]


def test_outputs_doc_lists_exactly_the_metrics_record_fields():
    text = (ROOT / "docs" / "outputs.md").read_text()
    section = text.split("## `metrics.json` fields", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert documented == field_names(), set(documented) ^ set(field_names())


def test_readme_is_the_front_door_and_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme) <= 8000 and "make run" in readme and "make test" in readme
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_nothing_cites_documents_outside_the_repository():
    sources = [*ROOT.glob("*.md"), *ROOT.glob("docs/*.md"), *ROOT.glob("src/**/*.py")]
    for path in [*sources, *ROOT.glob("experiments/**/*.md"), ROOT / "pyproject.toml"]:
        text = path.read_text()
        # Spelled as patterns so that this file does not match its own check.
        assert not re.search(r"G[U]IDE|\.\./share[d]", text), path


def test_architecture_doc_has_one_line_per_module():
    section = (
        (ROOT / "docs" / "architecture.md").read_text().split("## Module map", 1)[1].split("\n## ", 1)[0]
    )
    documented = re.findall(r"^\| `(gplvm[\w.]*)` \|", section, flags=re.MULTILINE)
    src = ROOT / "src"
    modules = [
        ".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        for p in sorted(src.rglob("*.py"))
    ]
    assert sorted(documented) == sorted(modules), set(documented) ^ set(modules)
