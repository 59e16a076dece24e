"""Multirun sweeps: failed jobs are recorded and skipped, the report covers every job, Optuna runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gplvm.cli.report import main as report_main
from gplvm.config import ModelConfig, SyntheticDatasetConfig
from gplvm.data.heldout import split_features
from gplvm.data.loading import load_dataset
from gplvm.evaluate.metrics import heldout_metrics
from gplvm.model.analytic import analytic_optimum
from gplvm.model.spec import ModelSpec
from gplvm.run import results
from gplvm.run.sweep_report import collect, write_report

GPLVM = [sys.executable, "-m", "gplvm"]
TINY = ["dataset=synthetic", "dataset.n_obs=40", "dataset.n_features=8"]


def run_sweep(sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    cmd = [*GPLVM, "-m", f"hydra.sweep.dir={sweep_dir}", *TINY, *overrides]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):
    """Four jobs in two joblib workers; the one with beta = -1 is invalid."""
    sweep_dir = tmp_path_factory.mktemp("sweep")
    proc = run_sweep(sweep_dir, "model.beta=-1,1,4,16", "heldout.fraction=0.25", "hydra/launcher=joblib")
    return sweep_dir, proc


def test_one_failing_job_does_not_stop_the_others(joblib_sweep):
    sweep_dir, proc = joblib_sweep
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "1 job(s) of the sweep did not complete" in proc.stderr
    statuses = {d.name: results.read_metrics(d)["status"] for d in sweep_dir.iterdir() if d.name.isdigit()}
    assert statuses == {"0": "failed", "1": "completed", "2": "completed", "3": "completed"}
    failed = results.read_metrics(sweep_dir / "0")
    assert failed["error_type"] == "ConfigError" and "model.beta=-1.0" in failed["error"]
    summary = json.loads((sweep_dir / "sweep_status.json").read_text())
    assert (summary["jobs"], summary["completed"]) == (4, 3)


def test_each_completed_job_directory_is_complete(joblib_sweep):
    sweep_dir, _ = joblib_sweep
    for job in ("1", "2", "3"):
        for name in (
            "metrics.json",
            "posterior.nc",
            "latent.png",
            ".hydra/config.yaml",
            ".hydra/overrides.yaml",
        ):
            assert (sweep_dir / job / name).is_file(), (job, name)
        metrics = results.read_metrics(sweep_dir / job)
        assert (metrics["n_features"], metrics["n_heldout_features"]) == (6, 2)
        assert np.isfinite(metrics["heldout_log_lik_per_feature"])
        assert len(metrics["heldout_log_lik_by_feature"]) == 2


def test_report_has_a_row_per_job_and_the_best_configuration(joblib_sweep, capsys):
    sweep_dir, _ = joblib_sweep
    assert report_main([str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(sweep_dir / "report.csv")
    assert len(table) == 4
    assert list(table["status"]) == ["failed", "completed", "completed", "completed"]
    assert table.loc[0, "error"].startswith("model.beta=-1.0 is invalid")
    best = table.loc[table["heldout_log_lik_per_feature"].idxmax()]
    assert f"Best by heldout_log_lik_per_feature = {best['heldout_log_lik_per_feature']:.6g}:" in out
    assert f"model.beta={best['model.beta']} " in out and f"(job {best['job']})" in out
    assert (sweep_dir / "report.md").read_text().count("\n| ") >= 5
    assert (sweep_dir / "report.png").stat().st_size > 5000


def linear_spec(latent_dim: int, beta: float) -> ModelSpec:
    return ModelSpec.from_config(ModelConfig(latent_dim=latent_dim, beta=beta))


def test_heldout_score_peaks_at_the_true_latent_dim():
    """On data drawn with Q = 3 the held-out score peaks at 3, while the training fit keeps rising."""
    data = load_dataset(SyntheticDatasetConfig(n_obs=100, n_features=40, latent_dim=3, beta=10.0, seed=0))
    train, Y_test, names = split_features(data, 0.3, seed=0)
    heldout, training = [], []
    for q in range(1, 7):
        Z = analytic_optimum(train.Y, q, 10.0, 1.0).Z
        heldout.append(
            heldout_metrics(Z[None], [{"beta": 10.0}], Y_test, linear_spec(q, 10.0), names)[
                "heldout_log_lik_per_feature"
            ]
        )
        training.append(linear_spec(q, 10.0).log_likelihood(Z, train.Y, {"beta": 10.0}) / train.n_features)
    assert int(np.argmax(heldout)) + 1 == 3
    assert np.all(np.diff(training) > 0)


def test_heldout_score_of_pymc_map_fits_peaks_at_the_true_latent_dim():
    """The same through the pipeline: PyMC's MAP for each Q, scored on held-out columns."""
    from gplvm.run.pipeline import fit_experiment
    from tests.helpers import tiny_config

    data = ["dataset.n_obs=100", "dataset.n_features=40", "dataset.latent_dim=3", "dataset.beta=10"]
    scores = []
    for q in range(1, 7):
        cfg = tiny_config(*data, "model.beta=10", f"model.latent_dim={q}", "heldout.fraction=0.3")
        scores.append(fit_experiment(cfg).metrics["heldout_log_lik_per_feature"])
    assert int(np.argmax(scores)) + 1 == 3, scores


def test_heldout_score_of_several_draws_is_the_log_mean_density():
    rng = np.random.default_rng(0)
    draws = rng.standard_normal((5, 12, 2))
    Y = rng.standard_normal((12, 3))
    score = heldout_metrics(draws, [{"beta": 2.0}] * 5, Y, linear_spec(2, 2.0), ["a", "b", "c"])
    from gplvm.model.reference import column_log_likelihoods_dense

    dens = np.exp(np.stack([column_log_likelihoods_dense(Z, Y, 2.0) for Z in draws]))
    np.testing.assert_allclose(score["heldout_log_lik_per_feature"], np.log(dens.mean(axis=0)).mean())
    np.testing.assert_allclose(list(score["heldout_log_lik_by_feature"].values()), np.log(dens.mean(axis=0)))


def _fake_job(sweep_dir: Path, num: int, overrides: list[str], metrics: dict | None) -> None:
    job = sweep_dir / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if metrics is not None:
        results.write_metrics(job, metrics)


def test_report_on_a_hand_made_sweep(tmp_path):
    for i, (q, beta) in enumerate([(1, 1.0), (2, 1.0), (1, 10.0), (2, 10.0)]):
        metrics = {
            "status": "completed",
            "method": "map",
            "log_likelihood": -10.0 * i,
            "heldout_log_lik_per_feature": -float(abs(q - 2) + beta / 10),
        }
        _fake_job(tmp_path, i, [f"model.latent_dim={q}", f"model.beta={beta}"], metrics)
    _fake_job(tmp_path, 4, ["model.latent_dim=3", "model.beta=1.0"], None)  # killed before writing
    table, swept = collect(tmp_path)
    assert swept == ["model.latent_dim", "model.beta"]
    assert list(table["status"]) == ["completed"] * 4 + ["missing"]
    text = write_report(tmp_path)
    assert "Best by heldout_log_lik_per_feature = -0.1: model.latent_dim=2 model.beta=1.0 (job 1)" in text
    assert "5 jobs, 4 completed, 1 not completed." in text


def test_report_does_not_rank_a_q_sweep_by_training_log_likelihood(tmp_path):
    for q in (1, 2, 3):
        metrics = {"status": "completed", "method": "map", "log_likelihood": 10.0 * q, "n_features": 4}
        _fake_job(tmp_path, q, [f"model.latent_dim={q}"], metrics)
    text = write_report(tmp_path)
    assert "Best by" not in text
    assert (
        "No ranking: the training log-likelihood favours the larger model whenever model.latent_dim" in text
    )
    assert "kfold.folds=4" in text  # K <= D = 4


def test_report_flags_unreliable_loo_in_the_table_and_the_verdict(tmp_path):
    for q, bad in ((1, 0), (2, 42)):
        metrics = {
            "status": "completed",
            "method": "nuts",
            "log_likelihood": 10.0 * q,
            "elpd_loo": -100.0 + q,
            "n_pareto_k_bad": bad,
            "pareto_k_threshold": 0.7,
            "n_features": 64,
        }
        _fake_job(tmp_path, q, [f"model.latent_dim={q}"], metrics)
    text = write_report(tmp_path)
    assert "Best by elpd_loo = -98: model.latent_dim=2" in text
    assert "PSIS-LOO is unreliable (UNRELIABLE: 42 features with Pareto k > 0.70)" in text
    assert "kfold.folds=10" in text
    table = pd.read_csv(tmp_path / "report.csv", keep_default_na=False)
    assert list(table["loo_check"]) == ["", "UNRELIABLE: 42 features with Pareto k > 0.70"]


def test_report_on_a_missing_directory_is_a_one_line_error(tmp_path, capsys):
    assert report_main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"gplvm-report: error: {tmp_path / 'nope'}: no such directory"
    assert report_main([str(tmp_path)]) == 2
    assert "no job directories" in capsys.readouterr().err


@pytest.mark.slow  # a Hydra plugin in a subprocess; the joblib sweep above covers multirun by default
def test_optuna_search_runs_three_trials(tmp_path):
    proc = run_sweep(tmp_path, "+search=optuna", "hydra.sweeper.n_trials=3", "model.latent_dim=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert set(found["best_params"]) == {"model.beta"}
    scores = [results.read_metrics(tmp_path / str(i))["heldout_log_lik_per_feature"] for i in range(3)]
    np.testing.assert_allclose(found["best_value"], max(scores))


@pytest.mark.slow  # a Hydra plugin in subprocesses; the joblib sweep above covers multirun by default
def test_submitit_local_launcher_runs_jobs(tmp_path):
    proc = run_sweep(tmp_path, "model.beta=1,2", "hydra/launcher=local")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [results.read_metrics(tmp_path / str(i))["status"] for i in range(2)] == ["completed"] * 2


def test_slurm_launcher_config_composes():
    from gplvm.config import compose

    cfg = compose(["hydra/launcher=slurm", "hydra.launcher.partition=cpu"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.cpus_per_task) == ("cpu", 2)
