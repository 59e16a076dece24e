"""MAP and NUTS fits through PyMC: the MAP reaches the analytic optimum; NUTS gives a full DataTree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gplvm.errors import ConfigError
from gplvm.run import results
from gplvm.run.pipeline import fit_experiment, run_experiment
from tests.helpers import NUTS_ARGS, tiny_config


def test_map_from_random_init_reaches_the_analytic_optimum(map_random):
    m = map_random.metrics
    assert m["converged"], m["optimizer_message"]
    assert m["gram_rel_error"] < 1e-6
    # Rounding at the objective's scale is ~1e-16 relative; the gap sits within a few of those.
    assert abs(m["analytic_gap_relative"]) < 1e-12
    assert m["analytic_gap"] > -1e-9 * abs(m["analytic_log_posterior"])


def test_map_metrics_are_consistent(map_random):
    m = map_random.metrics
    assert (m["method"], m["n_obs"], m["n_features"], m["latent_dim"], m["beta"]) == ("map", 40, 8, 2, 4.0)
    lp = m["log_posterior"]
    np.testing.assert_allclose(m["analytic_log_posterior"] - lp, m["analytic_gap"])
    assert m["log_likelihood"] > lp  # the N(0, 2) prior on 80 entries has negative log density here
    # The optimiser's own objective at its end point is the negative log posterior (no Jacobian).
    np.testing.assert_allclose(-float(map_random.idata["optimizer_result"]["fun"]), lp, rtol=1e-12)


def test_neighbour_errors_are_reported_for_labelled_data(map_random, nuts_run):
    from gplvm.evaluate.baselines import pca_scores
    from gplvm.evaluate.metrics import nearest_neighbour_error

    m = map_random.metrics
    expected = nearest_neighbour_error(map_random.fit.point_estimate(), map_random.data.labels)
    assert m["knn_error"] == expected
    assert m["pca_knn_error"] == nearest_neighbour_error(
        pca_scores(map_random.data.Y, 2), map_random.data.labels
    )
    reference = nuts_run.idata["alignment"]["Z_reference"].values  # the aligned posterior mean
    assert nuts_run.metrics["knn_error"] == nearest_neighbour_error(reference, nuts_run.data.labels)


def test_map_datatree_has_named_dims(map_random):
    tree = map_random.idata
    Z = tree.posterior["Z"]
    assert Z.dims == ("chain", "draw", "obs", "latent_dim")
    assert Z.shape == (1, 1, 40, 2)
    assert tree.constant_data["Y"].dims == ("obs", "feature")
    assert tree.constant_data["label"].dims == ("obs",)
    assert "optimizer_result" in tree.children and "fit" not in tree.children
    assert tree.attrs["method"] == "map" and tree.attrs["latent_dim"] == 2


def test_dense_likelihood_map_matches_woodbury(map_random):
    dense = fit_experiment(
        tiny_config("inference.init=random", "model.beta=4", "model.prior_scale=2", "model.likelihood=dense")
    )
    assert dense.metrics["gram_rel_error"] < 1e-6
    np.testing.assert_allclose(
        dense.metrics["log_posterior"], map_random.metrics["log_posterior"], rtol=1e-10
    )


# Non-default MAP backends: each costs a cold compile (numba about 20 s), so they run with the slow tests.
@pytest.mark.parametrize("backend", [pytest.param(b, marks=pytest.mark.slow) for b in ("numba", "c")])
def test_compiled_backends_reach_the_same_map(map_random, backend):
    args = ("inference.init=random", "model.beta=4", "model.prior_scale=2", f"inference.backend={backend}")
    other = fit_experiment(tiny_config(*args))
    assert other.metrics["backend"] == backend and other.metrics["gram_rel_error"] < 1e-6
    np.testing.assert_allclose(
        other.metrics["log_posterior"], map_random.metrics["log_posterior"], rtol=1e-12
    )


def test_same_seed_gives_the_same_numbers(map_random):
    again = fit_experiment(tiny_config("inference.init=random", "model.beta=4", "model.prior_scale=2"))
    np.testing.assert_array_equal(again.fit.point_estimate(), map_random.fit.point_estimate())
    other = fit_experiment(
        tiny_config("inference.init=random", "model.beta=4", "model.prior_scale=2", "seed=1")
    )
    assert not np.array_equal(other.fit.point_estimate(), map_random.fit.point_estimate())


def test_nuts_datatree_groups_and_dims(nuts_run):
    tree = nuts_run.idata
    assert {"posterior", "sample_stats", "constant_data"} <= set(tree.children)
    Z = tree.posterior["Z"]
    assert Z.dims == ("chain", "draw", "obs", "latent_dim") and Z.shape == (2, 60, 40, 2)
    np.testing.assert_array_equal(tree.posterior["latent_dim"].values, [0, 1])
    assert "diverging" in tree.sample_stats
    assert np.isfinite(Z.values).all()


def test_nuts_is_reproducible(nuts_run):
    """Bit for bit from the same compiled code. (Seen once, with two workers each compiling this
    graph: a fit that loaded the other worker's cached code differed by 6e-8, rounding in another
    order; the modules that use ``nuts_run`` now share one worker.)"""
    again = fit_experiment(tiny_config(*NUTS_ARGS))
    np.testing.assert_array_equal(again.idata.posterior["Z"].values, nuts_run.idata.posterior["Z"].values)


@pytest.mark.slow  # a second cold compile of the model's gradient, for PyMC's own sampler
def test_nuts_runs_with_pymcs_sampler():
    pymc = fit_experiment(tiny_config(*NUTS_ARGS, "inference.sampler=pymc", "inference.cores=1"))
    assert pymc.idata.posterior["Z"].shape == (2, 60, 40, 2)
    assert pymc.idata.posterior.attrs["inference_library"] == "pymc"
    assert pymc.metrics["divergences"] == int(pymc.idata.sample_stats["diverging"].values.sum())


def test_dense_likelihood_refuses_large_n():
    from gplvm.data.dataset import Dataset
    from gplvm.model.forms.dense import Dense
    from gplvm.model.spec import ModelSpec
    from gplvm.run.pipeline import check_config

    big = Dataset("big", np.zeros((Dense.max_obs + 1, 3)), ["x0", "x1", "x2"])
    for likelihood in ("dense", "woodbury"):
        cfg = tiny_config(f"model.likelihood={likelihood}")
        if likelihood == "dense":
            with pytest.raises(ConfigError, match=r"model.likelihood=dense with N=10001 needs .* 0.7 GiB"):
                check_config(cfg, big, ModelSpec.from_config(cfg.model))
        else:
            check_config(cfg, big, ModelSpec.from_config(cfg.model))


def test_nuts_posterior_holds_aligned_latents_and_invariants(nuts_run):
    post = nuts_run.idata.posterior
    assert post["Z_aligned"].dims == post["Z"].dims
    assert post["singular_values"].dims == ("chain", "draw", "latent_dim")
    for name in ("log_likelihood", "log_posterior", "alignment_residual"):
        assert post[name].dims == ("chain", "draw")
    # nutpie's log density of each draw is the same log posterior, computed independently.
    np.testing.assert_allclose(
        post["log_posterior"].values, nuts_run.idata.sample_stats["logp"].values, rtol=1e-10
    )
    np.testing.assert_allclose(nuts_run.idata["alignment"]["Z_start"].values, nuts_run.fit.point_estimate())


def test_nuts_metrics(nuts_run):
    m = nuts_run.metrics
    assert m["method"] == "nuts"
    assert m["divergences"] == int(nuts_run.idata.sample_stats["diverging"].values.sum())
    assert m["gram_rel_error"] < 1e-6  # of the MAP the chains started from
    # Draws are typical-set points: below the MAP's log posterior, not wildly so.
    assert m["log_posterior"] < m["map_log_posterior"]
    assert m["log_posterior"] > m["map_log_posterior"] - 10 * 40 * 2


def test_run_experiment_writes_a_complete_run_directory(tmp_path, nuts_run):
    from gplvm.run.pipeline import save_experiment

    save_experiment(nuts_run, tmp_path)
    metrics = json.loads((tmp_path / results.METRICS).read_text())
    assert metrics["status"] == "completed" and metrics["method"] == "nuts"
    assert (tmp_path / results.LATENT_PLOT).stat().st_size > 1000
    import arviz as az

    tree = az.from_netcdf(tmp_path / results.POSTERIOR)
    assert tree.posterior["Z"].shape == (2, 60, 40, 2)
    assert list(tree.constant_data["label"].values[:2]) == list(nuts_run.data.labels[:2])
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_failed_run_is_recorded_as_failed(tmp_path):
    with pytest.raises(ConfigError):
        run_experiment(tiny_config("model.latent_dim=40"), tmp_path)
    metrics = json.loads((tmp_path / results.METRICS).read_text())
    assert metrics["status"] == "failed"
    assert metrics["error_type"] == "ConfigError" and "model.latent_dim=40" in metrics["error"]
    assert not (tmp_path / results.POSTERIOR).exists()
