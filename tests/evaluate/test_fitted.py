"""Using a fitted run from Python: ``gplvm.load_run``, the fitted values and reconstructions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import cho_factor, cho_solve

import gplvm
from gplvm.model.forms.dense import Dense
from gplvm.model.forms.sparse import Sparse
from gplvm.model.forms.woodbury import Woodbury
from gplvm.model.kernels.linear import Linear
from gplvm.model.kernels.rbf import RBF
from gplvm.run.pipeline import fit_experiment, save_experiment
from tests.helpers import random_problem

RBF_HYPER = {"beta": 3.0, "variance": 1.3, "lengthscale": np.array([0.8, 1.4]), "bias": 0.2}


def gp_reference(kernel, Z_new, Z, Y, hyper):
    """The textbook GP predictive equations with dense solves."""
    factor = cho_factor(kernel.K_np(Z, hyper))
    cross = kernel.cross_np(Z_new, Z, hyper)
    mean = cross @ cho_solve(factor, Y)
    var = kernel.diag_np(Z_new, hyper) - np.einsum("ij,ji->i", cross, cho_solve(factor, cross.T))
    return mean, var + kernel.noise_variance(hyper)


@pytest.mark.parametrize(
    ("form", "kernel", "hyper"),
    [
        (Dense, RBF(ard=True, jitter=1e-8), RBF_HYPER),
        (Woodbury, Linear(), {"beta": 3.0}),
        (Dense, Linear(), {"beta": 3.0}),
    ],
)
def test_predictions_follow_the_gp_predictive_equations(form, kernel, hyper):
    Z, Y = random_problem(14, 3, 2, seed=1)
    Z_new = np.random.default_rng(2).normal(size=(6, 2))
    mean, var = form(kernel).predict(Z_new, Z, Y, hyper)
    ref_mean, ref_var = gp_reference(kernel, Z_new, Z, Y, hyper)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(var, ref_var, rtol=1e-9, atol=1e-12)


def test_sparse_prediction_at_u_equal_z_is_the_dense_one():
    kernel = RBF(ard=True, jitter=1e-12)
    Z, Y = random_problem(12, 3, 2, seed=3)
    Z *= 2.0
    Z_new = np.random.default_rng(4).normal(size=(5, 2))
    mean, var = Sparse(kernel).predict(Z_new, Z, Y, {**RBF_HYPER, "inducing": Z})
    ref_mean, ref_var = gp_reference(kernel, Z_new, Z, Y, RBF_HYPER)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(var, ref_var, rtol=1e-7, atol=1e-9)


@pytest.fixture(scope="module")
def rbf_run_dir(tmp_path_factory):
    from omegaconf import OmegaConf

    from gplvm.config import compose, to_run_config

    data = ["dataset=synthetic", "dataset.n_obs=40", "dataset.n_features=8"]
    composed = compose([*data, "model=rbf", "model.likelihood=sparse", "model.num_inducing=10"])
    exp = fit_experiment(to_run_config(composed), OmegaConf.to_yaml(composed))
    path = tmp_path_factory.mktemp("rbf_run")
    save_experiment(exp, path, plot=False)
    return exp, path


def test_load_run_gives_the_fitted_values_and_reconstructions(rbf_run_dir):
    exp, path = rbf_run_dir
    run = gplvm.load_run(path)
    np.testing.assert_array_equal(run.latents, exp.fit.point_estimate())
    assert run.config.model.likelihood == "sparse" and run.tree.posterior["Z"].shape[-2:] == (40, 2)
    assert run.hyperparameters["inducing"].shape == (10, 2)
    assert set(run.hyperparameters) >= {"beta", "variance", "lengthscale", "bias"}
    mean, var = run.reconstruct()
    assert mean.shape == (40, 8) and var.shape == (40,) and np.all(var > 0)
    rmse = float(np.sqrt(np.mean((run.training_data() - mean) ** 2)))
    assert rmse == pytest.approx(exp.record.reconstruction_rmse, rel=1e-12)
    # The fit explains the data better than their column means (0 after centring) do.
    assert rmse < 0.8 * float(np.sqrt(np.mean(run.training_data() ** 2)))
    one_mean, _ = run.reconstruct(run.latents[:1])
    np.testing.assert_allclose(one_mean, mean[:1], rtol=1e-10)
    with pytest.raises(ValueError, match="latent points have 3 dims; this run has 2"):
        run.reconstruct(np.zeros((1, 3)))


def test_reconstructions_in_the_raw_units_undo_the_centring(rbf_run_dir):
    from gplvm.config import load_config
    from gplvm.data.bundled import synthetic

    _, path = rbf_run_dir
    run = gplvm.load_run(path)
    raw, _, _ = synthetic(
        load_config("dataset=synthetic", "dataset.n_obs=40", "dataset.n_features=8").dataset
    )
    np.testing.assert_allclose(run.tree.constant_data["feature_offset"].values, raw.mean(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(run.tree.constant_data["feature_scale"].values, 1.0)
    mean, var = run.reconstruct()
    raw_mean, raw_var = run.reconstruct(original_units=True)
    np.testing.assert_allclose(raw_mean, mean + raw.mean(axis=0), rtol=1e-12)
    assert raw_var.shape == (40, 8) and np.allclose(raw_var, var[:, None])


def test_standardised_data_record_their_scale():
    from gplvm.config import IrisDatasetConfig
    from gplvm.data.bundled import load_iris_array
    from gplvm.data.loading import load_dataset

    data = load_dataset(IrisDatasetConfig(standardize=True))
    raw = load_iris_array()[0]
    np.testing.assert_allclose(data.scale, raw.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(data.to_original_units(data.Y), raw, rtol=1e-12, atol=1e-12)
