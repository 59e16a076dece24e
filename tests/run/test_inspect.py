"""``gplvm-inspect`` on MAP and NUTS run directories, and on broken ones."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gplvm.cli.inspect import main
from gplvm.run import lifecycle, results
from gplvm.run.inspection import INSPECT_DIR
from gplvm.run.pipeline import save_experiment


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory, map_random, nuts_run):
    dirs = {"map": tmp_path_factory.mktemp("map"), "nuts": tmp_path_factory.mktemp("nuts")}
    save_experiment(map_random, dirs["map"])
    save_experiment(nuts_run, dirs["nuts"])
    return dirs


def test_inspect_nuts_prints_diagnostics_and_writes_plots(run_dirs, capsys):
    assert main([str(run_dirs["nuts"])]) == 0
    out = capsys.readouterr().out
    assert "Rotation invariants" in out and "log_posterior" in out and "singular_values[1]" in out
    assert "| raw Z (misleads: rotations) |" in out
    assert "Verdict:" in out
    for name in ("trace_invariants.png", "rank_invariants.png", "latent_posterior.png"):
        assert (run_dirs["nuts"] / INSPECT_DIR / name).stat().st_size > 5000, name


def test_inspect_verdict_follows_the_metrics(run_dirs, capsys, nuts_run):
    main([str(run_dirs["nuts"]), "--no-plots"])
    out = capsys.readouterr().out
    if nuts_run.metrics["converged"]:
        assert "Verdict: converged" in out
    else:  # 60 draws may be too few; then every problem is listed with advice
        assert "Verdict: NOT converged" in out
        assert all(p in out for p in nuts_run.metrics["diagnostic_problems"])


def test_inspect_a_single_chain_skips_the_rank_plot(tmp_path, nuts_run, capsys):
    one_chain = nuts_run.idata.isel(chain=[0])
    results.write_posterior(tmp_path, one_chain)
    results.write_metrics(tmp_path, {**nuts_run.metrics, "status": "completed", "chains": 1})
    assert main([str(tmp_path)]) == 0
    assert "rank_invariants.png" not in capsys.readouterr().out
    assert (tmp_path / INSPECT_DIR / "trace_invariants.png").is_file()
    assert not (tmp_path / INSPECT_DIR / "rank_invariants.png").exists()


def test_inspect_map_overlays_the_analytic_optimum(run_dirs, capsys):
    assert main([str(run_dirs["map"])]) == 0
    out = capsys.readouterr().out
    assert "MAP run" in out and "Gram error" in out and "Verdict: converged" in out
    assert (run_dirs["map"] / INSPECT_DIR / "latent_map.png").stat().st_size > 5000


def _ended_pid() -> int:
    """The id of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no such directory"),
        ("empty", "no metrics.json; not a gplvm run directory"),
        ("running", "the run is incomplete (status 'running')"),
        ("stale", "the run is stale: it says running, but process"),
        ("interrupted", "the run was interrupted by SIGTERM after 12.5 s"),
        ("failed", "the run failed: model.beta=0.0 is invalid"),
        ("no_posterior", "posterior.nc is missing"),
        ("bad_json", "not valid JSON"),
    ],
)
def test_broken_run_directories_give_one_line_errors(tmp_path, capsys, setup, message):
    run_dir = tmp_path / "run"
    if setup != "missing":
        run_dir.mkdir()
    if setup == "running":  # this very process, with a fresh heartbeat
        results.write_metrics(run_dir, lifecycle.running_record(time.time()))
        (run_dir / lifecycle.HEARTBEAT).touch()
    elif setup == "stale":  # a process that has ended
        results.write_metrics(run_dir, {**lifecycle.running_record(time.time()), "pid": _ended_pid()})
        (run_dir / lifecycle.HEARTBEAT).touch()  # fresh, yet the process is gone
    elif setup == "interrupted":
        lifecycle.mark_interrupted(run_dir, signal.SIGTERM, 12.5)
    elif setup == "failed":
        results.mark_failed(run_dir, ValueError("model.beta=0.0 is invalid: it must be a finite number > 0"))
    elif setup == "no_posterior":
        (run_dir / "metrics.json").write_text(json.dumps({"status": "completed", "method": "map"}))
    elif setup == "bad_json":
        (run_dir / "metrics.json").write_text("{")
    assert main([str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gplvm-inspect: error:") and message in err and "\n" not in err


def test_console_script_exits_nonzero_on_a_broken_directory(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "gplvm.cli.inspect", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "no such directory" in proc.stderr and "Traceback" not in proc.stderr


STORED = Path(__file__).resolve().parents[1] / "stored" / "runs"


@pytest.mark.parametrize("name", ["nuts_linear", "map_rbf_ard"])
def test_inspect_reads_stored_run_directories(tmp_path, capsys, name):
    """Runs written by this version and stored in tests/stored stay readable, plots included."""
    run_dir = tmp_path / name
    shutil.copytree(STORED / name, run_dir)
    assert main([str(run_dir)]) == 0
    out = capsys.readouterr().out
    stored = json.loads((run_dir / "metrics.json").read_text())
    assert f"{stored['method'].upper()} run" in out and "Verdict:" in out
    assert f"{stored['kernel']}{' (ARD)' if stored['ard'] else ''} kernel" in out
    plot = "latent_posterior.png" if stored["method"] == "nuts" else "latent_map.png"
    assert (run_dir / INSPECT_DIR / plot).stat().st_size > 5000


def test_stored_rbf_run_rebuilds_its_model_and_shading():
    """The model config in the attrs rebuilds the kernel, and the MAP's log-likelihood is reproduced."""
    from gplvm.run.inspection import run_shading
    from gplvm.run.loaded import load_run

    run = load_run(STORED / "map_rbf_ard")
    spec = run.spec
    assert (spec.kernel.name, spec.kernel.ard, spec.learned) == (
        "rbf",
        True,
        ("beta", "variance", "lengthscale"),
    )
    hyper = spec.first_draw(run.tree.posterior.to_dataset())
    Z = run.tree.posterior["Z"].values[0, 0]
    Y = run.tree.constant_data["Y"].values
    assert spec.log_likelihood(Z, Y, hyper) == pytest.approx(run.record.log_likelihood, rel=1e-12)
    shading = run_shading(run, Z)
    assert shading is not None and shading.variance.shape == (80, 80)
