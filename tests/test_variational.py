"""The Bayesian GPLVM (inference=variational) and the sparse MAP through the whole pipeline."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from gplvm.config import load_config
from gplvm.errors import ConfigError
from gplvm.pipeline import fit_experiment, save_experiment

VARIATIONAL = [
    "dataset=curve",
    "dataset.n_obs=40",
    "model=rbf_ard",
    "model.latent_dim=3",
    "model.num_inducing=8",
    "inference=variational",
    "inference.draws=100",
    "inference.progress_seconds=0",
]


@pytest.fixture(scope="module")
def variational_run():
    return fit_experiment(load_config(*VARIATIONAL))


@pytest.fixture(scope="module")
def sparse_map_run():
    return fit_experiment(
        load_config(
            "dataset=curve",
            "dataset.n_obs=40",
            "model=rbf",
            "model.likelihood=sparse",
            "model.num_inducing=8",
        )
    )


def test_variational_tree_holds_q_and_draws_from_it(variational_run):
    tree = variational_run.idata
    q = tree["variational"]
    assert q["Z_mean"].dims == ("obs", "latent_dim") and q["Z_var"].dims == ("obs", "latent_dim")
    assert np.all(q["Z_var"].values > 0)
    Z = tree.posterior["Z"]
    assert Z.dims == ("chain", "draw", "obs", "latent_dim") and Z.shape == (2, 100, 40, 3)
    assert tree.posterior["inducing"].dims == ("chain", "draw", "inducing_point", "latent_dim")
    # The draws are q's: their mean and sd agree with Z_mean and sqrt(Z_var) within sampling error.
    draws = Z.values.reshape(-1, 40, 3)
    se = np.sqrt(q["Z_var"].values / len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - q["Z_mean"].values) < 5 * se)
    np.testing.assert_allclose(draws.std(axis=0), np.sqrt(q["Z_var"].values), rtol=0.5)
    assert "Z_aligned" in tree.posterior and "alignment" in tree


def test_variational_metrics(variational_run):
    m = variational_run.record
    assert m.method == "variational" and m.likelihood == "sparse" and m.num_inducing == 8
    assert m.converged and m.iterations > 0
    assert np.isfinite(m.elbo) and m.elbo < m.log_likelihood + 1e6
    assert len(m.latent_dim_sensitivity) == 3
    assert m.knn_error_relevant is not None
    assert m.divergences is None and m.rhat_max_invariants is None  # no sampler here
    assert m.map_log_likelihood is None


def test_variational_is_reproducible(variational_run):
    again = fit_experiment(load_config(*VARIATIONAL))
    np.testing.assert_array_equal(
        again.idata.posterior["Z"].values, variational_run.idata.posterior["Z"].values
    )


def test_variational_run_directory_is_inspected(tmp_path, variational_run, capsys):
    from gplvm.inspect_run import main

    save_experiment(variational_run, tmp_path)
    assert (tmp_path / "latent.png").stat().st_size > 5000
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "VARIATIONAL run" in out and "ARD relevance" in out and "Verdict: converged" in out
    assert (tmp_path / "inspect" / "latent_posterior.png").stat().st_size > 5000


def test_sparse_map_stores_the_inducing_inputs(sparse_map_run):
    m = sparse_map_run.record
    assert m.likelihood == "sparse" and m.num_inducing == 8 and m.converged
    post = sparse_map_run.idata.posterior
    assert post["inducing"].shape == (1, 1, 8, 2)
    # The bound at the fit is below the dense likelihood at the same point (Titsias).
    from gplvm.likelihood import Dense

    spec = sparse_map_run.spec
    hyper = spec.first_draw(post.to_dataset())
    dense = Dense(spec.kernel).log_likelihood_np(post["Z"].values[0, 0], sparse_map_run.data.Y, hyper)
    assert m.log_likelihood < dense


def test_progress_lines_are_logged(caplog):
    with caplog.at_level(logging.INFO, logger="gplvm.inference.map"):
        fit_experiment(load_config("dataset=iris", "model=rbf", "inference.progress_seconds=1e-9"))
    lines = [r.getMessage() for r in caplog.records if "MAP iteration" in r.getMessage()]
    assert lines and "objective" in lines[0] and "largest |gradient|" in lines[0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=matern52", "inference=variational"], "model.kernel='matern52' is invalid"),
        (["model.num_inducing=0"], "model.num_inducing=0 is invalid"),
        (["inference=variational", "inference.init_variance=0"], "inference.init_variance"),
        (["inference.progress_seconds=-1"], "inference.progress_seconds"),
    ],
)
def test_bad_sparse_and_variational_settings_give_one_line_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(*overrides)


def test_variational_uses_the_sparse_bound_whatever_the_preset_says():
    cfg = load_config("model=rbf_ard", "inference=variational")
    assert cfg.model.likelihood.value == "sparse"
