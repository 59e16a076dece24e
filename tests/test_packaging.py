"""A regular (non-editable) install: the wheel carries the configs and runs from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_runs_gplvm_and_gplvm_inspect_from_another_directory(tmp_path):
    """Build the wheel, put only it on the path (dependencies from this venv), run from tmp_path."""
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True, timeout=600)
    [wheel] = (tmp_path / "dist").glob("gplvm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    configs = {
        f"gplvm/conf/{p.relative_to(ROOT / 'conf').as_posix()}" for p in (ROOT / "conf").rglob("*.yaml")
    }
    assert configs <= set(names), configs - set(names)
    assert not any(name.startswith(("benchmarks/", "tests/")) for name in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site), "OPENBLAS_NUM_THREADS": "1"}
    where = tmp_path / "elsewhere"
    where.mkdir()
    probe = "import gplvm, sys; print(gplvm.__file__)"
    located = subprocess.run(
        [sys.executable, "-c", probe], cwd=where, env=env, capture_output=True, text=True
    )
    assert located.stdout.startswith(str(site)), located.stdout  # the wheel, not the source tree
    run = [sys.executable, "-m", "gplvm", "dataset=iris", "plot=false", "hydra.run.dir=run"]
    proc = subprocess.run(run, cwd=where, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    inspect = [sys.executable, "-m", "gplvm.cli.inspect", "run", "--no-plots"]
    proc = subprocess.run(inspect, cwd=where, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "Verdict: converged" in proc.stdout, proc.stderr[-2000:]
