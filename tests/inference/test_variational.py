"""The Bayesian GPLVM (inference=variational) and the sparse MAP through the whole pipeline."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from gplvm.config import load_config
from gplvm.errors import ConfigError
from gplvm.inference.variational import draws_from_q
from gplvm.model.checks import check_run_config
from gplvm.run.pipeline import fit_experiment, save_experiment

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
    assert "Z_aligned" in tree.posterior and tree["alignment"].attrs["started_from"] == "q's means"


def test_the_draws_are_qs(variational_run, seed, margin):
    """The 200 draws' means and sds agree with Z_mean and sqrt(Z_var) within sampling error (seed 0
    gives the run's own draws). Worst over seeds 0-9: 3.3 standard errors; sd off by 16%."""
    q = variational_run.idata["variational"]
    mean, variance = q["Z_mean"].values, q["Z_var"].values
    draws = draws_from_q(mean, variance, chains=2, draws=100, seed=seed)
    if seed == variational_run.cfg.seed:
        np.testing.assert_array_equal(draws, variational_run.idata.posterior["Z"].values)
    draws = draws.reshape(-1, *mean.shape)
    se = np.sqrt(variance / len(draws))
    margin("largest |mean - Z_mean| / se", np.max(np.abs(draws.mean(axis=0) - mean) / se), below=5)
    margin(
        "largest |sd / sqrt(Z_var) - 1|", np.max(np.abs(draws.std(axis=0) / np.sqrt(variance) - 1)), below=0.5
    )


def test_variational_metrics(variational_run):
    m = variational_run.record
    assert m.method == "variational" and m.likelihood == "sparse" and m.num_inducing == 8
    assert m.converged and m.iterations > 0
    assert np.isfinite(m.elbo) and m.elbo < m.log_likelihood + 1e6
    assert len(m.latent_dim_sensitivity) == 3
    assert m.knn_error_relevant is not None
    assert m.divergences is None and m.rhat_max_invariants is None  # no sampler here
    assert m.map_log_likelihood is None


def test_variational_is_reproducible():
    """The same seed gives the same fit. Not bit for bit: NumPy's vectorised sums depend on the
    arrays' alignment in memory, and 20 L-BFGS steps amplify a last-bit difference; after the 47
    scikit-learn estimator checks had run in the same process the draws differed by up to 4e-7
    (2026-11-30)."""
    short = [*VARIATIONAL, "inference.maxiter=20", "plot=false"]
    first, again = (fit_experiment(load_config(*short)) for _ in range(2))
    np.testing.assert_allclose(
        again.idata.posterior["Z"].values, first.idata.posterior["Z"].values, rtol=0, atol=1e-5
    )


def test_variational_run_directory_is_inspected(tmp_path, variational_run, capsys):
    from gplvm.cli.inspect import main

    save_experiment(variational_run, tmp_path)
    assert (tmp_path / "latent.png").stat().st_size > 5000
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "VARIATIONAL run" in out and "ARD relevance" in out and "Verdict: converged" in out
    for name in ("latent_posterior.png", "ard_relevance.png", "trace_invariants.png"):
        assert (tmp_path / "inspect" / name).stat().st_size > 5000, name


def test_sparse_map_stores_the_inducing_inputs(sparse_map_run):
    m = sparse_map_run.record
    assert m.likelihood == "sparse" and m.num_inducing == 8 and m.converged
    post = sparse_map_run.idata.posterior
    assert post["inducing"].shape == (1, 1, 8, 2)
    # The bound at the fit is below the dense likelihood at the same point (Titsias).
    from gplvm.model.forms.dense import Dense

    spec = sparse_map_run.spec
    hyper = spec.first_draw(post.to_dataset())
    dense = Dense(spec.kernel).log_likelihood_np(post["Z"].values[0, 0], sparse_map_run.data.Y, hyper)
    assert m.log_likelihood < dense


def test_progress_lines_are_logged(caplog):
    with caplog.at_level(logging.INFO, logger="gplvm.inference.progress"):
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
        check_run_config(load_config(*overrides))


def test_variational_uses_the_sparse_bound_whatever_the_preset_says():
    cfg = load_config("model=rbf_ard", "inference=variational")
    assert cfg.model.likelihood == "sparse"


@pytest.mark.slow
def test_nuts_samples_the_sparse_model_with_the_inducing_inputs_held_at_the_map():
    from tests.helpers import NUTS_ARGS

    exp = fit_experiment(
        load_config(
            "dataset=curve",
            "dataset.n_obs=30",
            "model=rbf",
            "model.likelihood=sparse",
            "model.num_inducing=6",
            *NUTS_ARGS,
        )
    )
    U = exp.idata.posterior["inducing"].values
    assert U.shape == (2, 60, 6, 2) and np.all(U == U[0, 0])
    np.testing.assert_array_equal(U[0, 0], exp.fit.start.idata.posterior["inducing"].values[0, 0])
    Z = exp.idata.posterior["Z"].values
    assert np.std(Z, axis=(0, 1)).min() > 0  # Z is sampled
    assert exp.record.divergences is not None and exp.record.rhat_max_invariants is not None


@pytest.mark.parametrize(
    ("data", "latent_dim", "kept"),
    [
        # A 90-degree arc: one non-linear latent coordinate, fitted with Q = 3.
        (["dataset=curve", "dataset.n_obs=40", "dataset.arc_degrees=90"], 3, 1),
        # Drawn from a 2-dim latent (linear map), fitted with Q = 4.
        pytest.param(
            ["dataset=synthetic", "dataset.n_obs=40", "dataset.latent_dim=2"], 4, 2, marks=pytest.mark.slow
        ),
    ],
)
def test_ard_switches_off_the_latent_dims_the_data_do_not_need(data, latent_dim, kept, seed, margin):
    """The seed draws the data set. Worst over seeds 0-9: the true dims' relevance at least 0.19
    (linear data; the arc's one true dim is the 1 the others are divided by), the extra dims' at
    most 0.0014 (arc) and 0.0019 (linear)."""
    cfg = load_config(
        *data,
        f"dataset.seed={seed}",
        "model=rbf_ard",
        f"model.latent_dim={latent_dim}",
        "model.num_inducing=8",
        "inference=variational",
        "inference.draws=20",
        "inference.progress_seconds=0",
    )
    relevance = np.sort(fit_experiment(cfg).record.latent_dim_sensitivity)[::-1]
    relevance /= relevance[0]
    margin("smallest relevance of the true dims", relevance[:kept].min(), above=0.1)
    margin("largest relevance of the extra dims", relevance[kept:].max(), below=1e-2)


def test_q_variances_start_at_seeded_distinct_values_in_range():
    from gplvm.inference.variational import initial_variances

    S = initial_variances((50, 3), 0.1, 2.0, seed=4)
    assert np.all(S > 0) and np.all(S <= 0.1 * 2.0**2) and len(np.unique(S)) == S.size
    np.testing.assert_array_equal(S, initial_variances((50, 3), 0.1, 2.0, seed=4))
    assert not np.array_equal(S, initial_variances((50, 3), 0.1, 2.0, seed=5))
