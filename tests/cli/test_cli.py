"""The ``gplvm`` command end to end, in subprocesses, on tiny data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

GPLVM = [sys.executable, "-m", "gplvm"]
TINY = ["dataset=synthetic", "dataset.n_obs=40", "dataset.n_features=8"]


def run_gplvm(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}
    cmd = [*GPLVM, f"hydra.run.dir={run_dir}", *overrides]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


# The default suite's MAP run through the command line is test_user_csv_with_labels_runs.
@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(["inference=map"], marks=pytest.mark.slow),
        # In-process NUTS runs (test_pipeline) cover the same code; this one costs a cold numba compile.
        pytest.param(["inference=nuts", "inference.draws=60", "inference.tune=60"], marks=pytest.mark.slow),
    ],
    ids=["map", "nuts"],
)
def test_cli_run_writes_a_run_directory(tmp_path, overrides):
    run_dir = tmp_path / "run"
    proc = run_gplvm(run_dir, *TINY, *overrides)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["method"] == overrides[0].split("=")[1]
    assert metrics["gram_rel_error"] < 1e-6
    for name in ("posterior.nc", "latent.png", ".hydra/config.yaml", ".hydra/overrides.yaml"):
        assert (run_dir / name).is_file(), name


def test_help_and_cfg_job_work():
    help_out = subprocess.run([*GPLVM, "--help"], capture_output=True, text=True, timeout=120)
    assert help_out.returncode == 0 and "gplvm" in help_out.stdout
    # Only options a user can pick: the schemas are registered outside every group.
    assert "dataset: counts, curve, digits, file, iris, synthetic\n" in help_out.stdout
    assert "model: linear, matern52, rbf, rbf_ard\n" in help_out.stdout
    assert "base_" not in help_out.stdout and "schema" not in help_out.stdout
    cfg_out = subprocess.run(
        [*GPLVM, "--cfg", "job", "model.beta=20"], capture_output=True, text=True, timeout=120
    )
    assert cfg_out.returncode == 0 and "beta: 20" in cfg_out.stdout


def _write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


TYPO = "model.latnet_dim is not a config key; did you mean model.latent_dim?"
BAD_INPUTS = {
    "beta": (["model.beta=0"], "model.beta=0.0 is invalid: it must be a finite number > 0"),
    "latent_dim_too_big": ([*TINY, "model.latent_dim=40"], "model.latent_dim=40 is invalid"),
    "latent_dim_zero": (["model.latent_dim=0"], "model.latent_dim=0 is invalid"),
    "draws": (["inference=nuts", "inference.draws=0"], "inference.draws=0 is invalid"),
    "chains": (["inference=nuts", "inference.chains=0"], "inference.chains=0 is invalid"),
    "target_accept": (["inference=nuts", "inference.target_accept=1.2"], "inference.target_accept=1.2"),
    "missing_file": (["dataset=file", "dataset.path=/nonexistent/y.csv"], "no such file"),
    "missing_path": (["dataset=file"], "dataset.path is required"),
    "unknown_key": (
        ["model.latnet_dim=2"],
        "model.latnet_dim is not a config key; did you mean model.latent_dim?",
    ),
    "added_unknown_key": (
        ["+model.latnet_dim=2"],
        "model.latnet_dim is not a config key; did you mean model.latent_dim?",
    ),
    "wrong_type": (["model.beta=abc"], "model.beta=abc is invalid"),
    "unknown_option": (
        ["dataset=mnist"],
        "dataset=mnist is not an option; choose one of counts, curve, digits, file, iris, synthetic",
    ),
    "linear_latent_dim_above_d": (
        ["dataset=iris", "model.latent_dim=5"],
        "model.latent_dim=5 is invalid with the linear kernel on 4 feature columns",
    ),
    "lengthscale": (["model=rbf", "model.lengthscale=-1"], "model.lengthscale=-1.0 is invalid"),
    "svi_batch_above_n": (
        ["dataset=iris", "model=rbf", "inference=svi", "inference.batch_size=151"],
        "inference.batch_size=151 is invalid: it must lie in [1, 150]",
    ),
    "singular_K": (
        [
            "dataset=curve",
            "dataset.n_obs=60",
            "model=rbf",
            "model.latent_dim=1",
            "model.beta=1e20",
            "model.jitter=0",
        ],
        "K is not positive definite at the pca start (beta=1.e+20",
    ),
}


BAD_FILES = {
    "nan.csv": (
        "a,b\n1,2\nnan,3\n2,2\n",
        "first at row 1, column 0 (counting from 0); set dataset.missing=allow",
    ),
    "text.csv": ("a,b\n1,2\n3,x\n", "'x' is not a number"),
    "empty.csv": ("", "is empty"),
    # With dataset.missing=allow (the name says so): a column or a row with no observed cell.
    "allow_empty_column.csv": ("a,b\n1,\n2,\n3,\n", "column 'b' has no observed value (1 such); drop it"),
    "allow_empty_row.csv": ("a,b\n1,2\nnan,NA\n3,\n4,5\n", "row 1 has no observed value (1 such); drop it"),
    # With a count likelihood (the name says so): a negative and a fractional count.
    "counts_negative.csv": (
        "a,b\n1,2\n-1,3\n2,2\n",
        "model.noise=poisson needs non-negative integer counts, and column 'a' has -1 at row 1",
    ),
    "counts_fraction.csv": ("a,b\n1,2.5\n0,3\n2,2\n", "column 'b' has 2.5 at row 0 (1 such cells)"),
}
COUNT_RUN = ["model=rbf", "model.noise=poisson", "inference=svi", "inference.batch_size=2"]


# A case caught once the data is read costs a full start-up (PyMC and all, about 5 s) where a bad
# config costs under 1 s. The default suite runs two of the former (a missing file, a NaN cell);
# the others' messages are also tested in-process (test_data, test_missing, test_nonlinear,
# test_pipeline), and `make test-slow` runs them here too.
SLOW_CASES = {
    "latent_dim_too_big",
    "singular_K",
    "text.csv",
    "empty.csv",
    "allow_empty_column.csv",
    "allow_empty_row.csv",
}


def _bad_runs(root: Path, names: set[str]) -> dict[str, subprocess.CompletedProcess]:
    """The named bad-input cases, two processes at a time (each is mostly interpreter start-up)."""
    from concurrent.futures import ThreadPoolExecutor

    cases = {case: overrides for case, (overrides, _) in BAD_INPUTS.items() if case in names}
    for name, (content, _) in BAD_FILES.items():
        if name in names:
            allow = ["dataset.missing=allow"] if name.startswith("allow") else []
            allow += COUNT_RUN if name.startswith("counts") else []
            cases[name] = ["dataset=file", f"dataset.path={_write(root, name, content)}", *allow]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case: pool.submit(run_gplvm, root / f"run_{case}", *args) for case, args in cases.items()}
    return {case: future.result() for case, future in futures.items()}


# Overrides that Hydra cannot compose are refused before it runs.
BEFORE_HYDRA = {"unknown_key", "added_unknown_key", "wrong_type", "unknown_option"}


@pytest.fixture(scope="module")
def bad_input_runs(request, tmp_path_factory):
    """Every bad-input case that this session's selection asks for, run once."""
    root = tmp_path_factory.mktemp("bad")
    users = [item for item in request.session.items if "bad_input_runs" in getattr(item, "fixturenames", ())]
    return root, _bad_runs(root, {item.callspec.params["case"] for item in users})


def _case(name: str):
    return pytest.param(name, marks=pytest.mark.slow) if name in SLOW_CASES else name


@pytest.mark.parametrize("case", [_case(c) for c in sorted(BAD_INPUTS)])
def test_bad_input_gives_a_clear_error_and_nonzero_exit(bad_input_runs, case):
    root, procs = bad_input_runs
    message = BAD_INPUTS[case][1]
    proc = procs[case]
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:  # our own checks: one line, and the run directory says failed
        assert proc.stderr.strip().count("\n") == 0, proc.stderr
        if case in BEFORE_HYDRA:  # refused before Hydra makes a run directory
            assert not (root / f"run_{case}").exists()
            return
        metrics = json.loads((root / f"run_{case}" / "metrics.json").read_text())
        assert metrics["status"] == "failed" and message.split(" is")[0] in metrics["error"]


@pytest.mark.parametrize("case", [_case(c) for c in sorted(BAD_FILES)])
def test_bad_data_files_exit_2_with_one_line(bad_input_runs, case):
    proc = bad_input_runs[1][case]
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith("gplvm: error:") and BAD_FILES[case][1] in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_user_csv_with_labels_runs(tmp_path):
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((40, 2)) @ rng.standard_normal((2, 8))
    rows = ["species," + ",".join(f"f{j}" for j in range(8))]
    rows += [f"{'ab'[i % 2]}," + ",".join(f"{v:.6f}" for v in Y[i]) for i in range(40)]
    path = _write(tmp_path, "my.csv", "\n".join(rows) + "\n")
    proc = run_gplvm(tmp_path / "run", "dataset=file", f"dataset.path={path}", "dataset.label_column=species")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (metrics["n_obs"], metrics["n_features"], metrics["dataset"]) == (40, 8, "file")
    assert metrics["status"] == "completed" and metrics["method"] == "map"
    assert metrics["gram_rel_error"] < 1e-6  # the linear MAP reaches the analytic optimum
    for name in ("posterior.nc", "latent.png", ".hydra/config.yaml", ".hydra/overrides.yaml"):
        assert (tmp_path / "run" / name).is_file(), name


@pytest.mark.slow
def test_n_100000_map_runs_end_to_end_in_bounded_memory(tmp_path):
    """N = 100,000 x D = 64: nothing N x N may be formed (that alone would be 75 GiB)."""
    probe = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]);"
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    cmd = [
        *GPLVM,
        f"hydra.run.dir={tmp_path}",
        "dataset=synthetic",
        "dataset.n_obs=100000",
        "dataset.n_features=64",
    ]
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, timeout=600)
    code, peak_kib = map(int, out.stdout.split()[-2:])
    assert code == 0, out.stderr[-2000:]
    assert peak_kib < 2 * 1024**2  # 2 GiB
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_obs"] == 100_000 and metrics["gram_rel_error"] < 1e-5
