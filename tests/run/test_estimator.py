"""The array-in estimator: scikit-learn's conventions on top of the command line's pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import gplvm
from gplvm.data.bundled import load_iris_array
from gplvm.run.estimator import GPLVM


@parametrize_with_checks([GPLVM()])
def test_scikit_learns_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    return load_iris_array()[0]


@pytest.fixture(scope="module")
def fitted(iris):
    return GPLVM(latent_dim=2).fit(iris)


def test_the_estimator_fits_what_the_command_line_fits(iris, fitted):
    """Same defaults (one source: the configs): the same latents as ``gplvm dataset=iris``."""
    exp = gplvm.fit_experiment(gplvm.load_config("dataset=iris", "plot=false"))
    np.testing.assert_allclose(fitted.embedding_, exp.fit.point_estimate(), rtol=1e-10, atol=1e-12)
    assert fitted.tree_.posterior["Z"].shape == (1, 1, 150, 2)
    assert fitted.experiment_.record.gram_rel_error < 1e-6  # the linear MAP at its analytic optimum


def test_keyword_arguments_are_config_overrides():
    est = GPLVM(latent_dim=3, model="rbf", inference="nuts", beta=5.0, overrides=("inference.draws=10",))
    overrides = est.config_overrides()
    assert overrides.index("model=rbf") < overrides.index("model.latent_dim=3")
    assert {"inference=nuts", "model.beta=5.0", "seed=0"} <= set(overrides)
    assert overrides[-1] == "inference.draws=10"
    cfg = gplvm.load_config(*overrides)
    assert (cfg.model.kernel, cfg.model.latent_dim, cfg.inference.draws) == ("rbf", 3, 10)


def test_transform_places_training_rows_at_their_latents(iris, fitted):
    placed = fitted.transform(iris[:20])
    spread = np.ptp(fitted.embedding_, axis=0).max()
    assert np.max(np.abs(placed - fitted.embedding_[:20])) < 1e-3 * spread


def test_inverse_transform_reconstructs_in_the_datas_units(iris, fitted):
    rebuilt = fitted.inverse_transform(fitted.embedding_)
    run_mean, _ = fitted._run.reconstruct(original_units=True)
    np.testing.assert_allclose(rebuilt, run_mean, rtol=1e-12)
    # Q = 2 of iris's 4 columns: the reconstruction keeps most of the variance.
    assert np.mean((rebuilt - iris) ** 2) < 0.05 * np.mean((iris - iris.mean(0)) ** 2)


def test_score_prefers_the_training_distribution(iris, fitted):
    rng = np.random.default_rng(0)
    shuffled = np.column_stack([rng.permutation(iris[:, j]) for j in range(4)])
    assert fitted.score(iris) > fitted.score(shuffled)


def test_clone_pipeline_and_params(iris):
    est = GPLVM(latent_dim=1, seed=3)
    assert clone(est).get_params() == est.get_params()
    assert est.set_params(latent_dim=2).latent_dim == 2
    pipe = make_pipeline(StandardScaler(), GPLVM(latent_dim=2)).fit(iris)
    assert pipe.transform(iris[:5]).shape == (5, 2)


def test_save_writes_a_run_directory_that_load_run_reads(tmp_path, fitted):
    run = gplvm.load_run(fitted.save(tmp_path / "run"))
    np.testing.assert_allclose(run.latents, fitted.embedding_)
    assert (tmp_path / "run" / "latent.png").is_file()


def test_missing_cells_are_modelled_and_imputed_around_the_observed_ones(iris):
    holes = iris.copy()
    holes[::7, 2] = np.nan
    est = GPLVM(latent_dim=2, missing="allow").fit(holes)
    imputed = est.tree_["imputed"]["Y_imputed"].values
    observed = ~np.isnan(holes)
    np.testing.assert_array_equal(imputed[observed], holes[observed])  # exactly as given
    assert np.all(np.isfinite(imputed)) and est.experiment_.record.n_missing == observed.size - observed.sum()


def test_bad_parameters_are_one_line_errors(iris):
    with pytest.raises(ValueError, match="missing='maybe' is invalid"):
        GPLVM(missing="maybe").fit(iris)
    with pytest.raises(gplvm.errors.ConfigError, match="model=rbff is not an option"):
        GPLVM(model="rbff").fit(iris)
