"""Runs that are interrupted, die, or are resumed: what their directories say, and what a resume redoes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gplvm.run import lifecycle, results
from gplvm.run.sweep import job_statuses
from gplvm.run.sweep_report import collect

GPLVM = [sys.executable, "-m", "gplvm"]
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
# An rbf MAP on 500 digits runs for minutes: long enough to be interrupted mid-fit.
LONG_RUN = ["dataset=digits", "dataset.max_obs=500", "model=rbf", "plot=false"]


def test_a_signal_mid_fit_records_interrupted_and_exits_128_plus_signal(tmp_path):
    """SIGTERM (what Slurm sends) exits 143 and SIGINT (Ctrl-C) 130; both runs side by side."""
    cases = {signal.SIGTERM: 143, signal.SIGINT: 130}
    procs = {
        signum: subprocess.Popen(
            [*GPLVM, f"hydra.run.dir={tmp_path / signum.name}", *LONG_RUN],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for signum in cases
    }
    deadline = time.time() + 120
    while time.time() < deadline and not all((tmp_path / s.name / "metrics.json").is_file() for s in cases):
        time.sleep(0.1)
    time.sleep(3.0)  # into compiling and fitting
    for signum, proc in procs.items():
        proc.send_signal(signum)
    for signum, proc in procs.items():
        run_dir = tmp_path / signum.name
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == cases[signum], err.decode()[-2000:]
        metrics = results.read_metrics(run_dir)
        assert metrics["status"] == "interrupted" and metrics["signal"] == signum.name
        assert metrics["elapsed_seconds"] > 3.0
        assert "Traceback" not in err.decode() and f"interrupted by {signum.name}" in err.decode()
        # No temporary file and no heartbeat left: only Hydra's own record.
        assert {p.name for p in run_dir.iterdir() if p.name.startswith(".")} == {".hydra"}
        assert not (run_dir / "posterior.nc").exists()


def _ended_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_running_directories_are_shown_as_stale(tmp_path):
    """Running, but its process is gone (SIGKILL, power loss): stale in the sweep status and report."""
    for num, pid in ((0, os.getpid()), (1, _ended_pid())):
        job = tmp_path / str(num)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- seed={num}\n")
        results.write_metrics(job, {**lifecycle.running_record(time.time()), "pid": pid})
        (job / lifecycle.HEARTBEAT).touch()
    assert [s.status for s in job_statuses(tmp_path)] == ["running", "stale"]
    table, _ = collect(tmp_path)
    assert list(table["status"]) == ["running", "stale"] and "is gone" in table.loc[1, "error"]
    # Another host's job is judged by its heartbeat alone.
    other = {**lifecycle.running_record(time.time()), "host": "elsewhere"}
    assert lifecycle.status(other, tmp_path / "0") == "running"
    old = time.time() - lifecycle.STALE_AFTER_SECONDS - 1
    os.utime(tmp_path / "0" / lifecycle.HEARTBEAT, (old, old))
    assert lifecycle.status(other, tmp_path / "0") == "stale"


def test_resumed_sweep_reruns_exactly_the_failed_and_interrupted_jobs(tmp_path):
    """6 jobs: two fail (their data files are missing), one is interrupted; fix up, resume."""
    files = [tmp_path / f"d{i}.npy" for i in range(6)]

    def write(path: Path, seed: int) -> None:
        rng = np.random.default_rng(seed)
        np.save(
            path,
            rng.standard_normal((30, 2)) @ rng.standard_normal((2, 6)) + 0.1 * rng.standard_normal((30, 6)),
        )

    for i, path in enumerate(files[:4]):
        write(path, i)
    sweep = tmp_path / "sweep"
    cmd = [
        *GPLVM,
        "-m",
        f"hydra.sweep.dir={sweep}",
        "dataset=file",
        "dataset.path=" + ",".join(map(str, files)),
    ]
    cmd += ["model.beta=4", "plot=false"]
    first = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert first.returncode == 1, first.stderr[-2000:]
    assert [s.status for s in job_statuses(sweep)] == ["completed"] * 4 + ["failed"] * 2
    before = {i: (sweep / str(i) / "metrics.json").read_bytes() for i in range(6)}
    lifecycle.mark_interrupted(sweep / "2", signal.SIGTERM, 1.0)  # as if job 2 had been pre-empted
    for i in (4, 5):
        write(files[i], i)  # the fix-up
    again = subprocess.run([*cmd, "resume=true"], env=ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (again.stdout + again.stderr).count("skipped (resume=true)") == 3  # jobs 0, 1, 3 not refitted
    for i in (0, 1, 3):
        assert (sweep / str(i) / "metrics.json").read_bytes() == before[i]
    rerun = {i: json.loads((sweep / str(i) / "metrics.json").read_text()) for i in (2, 4, 5)}
    assert all(m["status"] == "completed" for m in rerun.values())
    # Determinism: the resumed job 2 gives the numbers of its uninterrupted first run.
    first_two = json.loads(before[2])
    for key in ("log_likelihood", "log_posterior", "gram_rel_error", "iterations", "config_sha256"):
        assert rerun[2][key] == first_two[key], key
    assert list(collect(sweep)[0]["status"]) == ["completed"] * 6
    assert json.loads((sweep / "sweep_status.json").read_text())["completed"] == 6


def test_a_signal_swallowed_by_a_finaliser_is_delivered_again():
    """Python only reports an exception raised in a finaliser; the handler's must still stop the run."""

    class Finalised:
        def __del__(self):
            raise lifecycle.Interrupted(signal.SIGTERM)  # as the handler would, inside a finaliser

    with pytest.raises(lifecycle.Interrupted) as info, lifecycle.signals_raise():
        Finalised()  # collected at once: its exception is unraisable
        for _ in range(1000):
            time.sleep(0.001)
    assert info.value.signum == signal.SIGTERM


def test_a_signal_that_something_swallows_still_ends_the_block_interrupted():
    """A library's broad except clause may eat the handler's exception; the block's end raises it."""
    with pytest.raises(lifecycle.Interrupted) as info, lifecycle.signals_raise():
        try:
            signal.raise_signal(signal.SIGINT)
        except BaseException:  # what a careless library does
            pass
    assert info.value.signum == signal.SIGINT
