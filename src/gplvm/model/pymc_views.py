"""The multi-view Bayesian GPLVM (MRD) as a ``pm.Model``: one q(Z), a sparse bound per view."""

from __future__ import annotations

import numpy as np
import pymc as pm

from gplvm.data.dataset import Dataset
from gplvm.data.missing import filled
from gplvm.model.pymc_model import hyperparameter_variables
from gplvm.model.variational_bound import (
    expected_log_likelihood,
    expected_missing_log_likelihood,
    gaussian_kl,
)
from gplvm.model.views import ViewSpec


def coords_for_views(data: Dataset, views: list[ViewSpec], latent_dim: int) -> dict[str, np.ndarray]:
    """``obs``, ``latent_dim`` and each view's own ``feature_<view>`` and form dims."""
    coords = {"obs": np.arange(data.n_obs), "latent_dim": np.arange(latent_dim)}
    names = np.asarray(data.feature_names, dtype=str)
    for view in views:
        coords[view.dim("feature")] = names[view.columns]
        for dim, values in view.spec.form.coords(data.n_obs).items():
            coords[view.dim(dim)] = values
    return coords


def _view_term(data: Dataset, view: ViewSpec, mean, variance):
    """View v's variables (suffixed) and its sparse bound under the shared q(Z)."""
    spec = view.spec
    Y = data.Y[:, view.columns]
    missing = np.isnan(Y)
    Y_data = pm.Data(view.variable("Y"), filled(Y) if missing.any() else Y, dims=("obs", view.dim("feature")))
    hyper = hyperparameter_variables(spec, view.variable)
    for name in spec.form.parameter_dims:
        hyper[name] = pm.Flat(view.variable(name), dims=view.parameter_dims(name))
    if missing.any():
        return expected_missing_log_likelihood(spec.form, mean, variance, Y_data, hyper, ~missing)
    return expected_log_likelihood(spec.form, mean, variance, Y_data, hyper, float(np.sum(Y**2)))


def build_multiview_model(
    data: Dataset, views: list[ViewSpec], latent_dim: int, prior_scale: float
) -> pm.Model:
    """MRD's objective: free ``Z_mean`` and ``Z_var`` shared by every view; per view its learned
    hyperparameters and inducing inputs; potentials ``log_likelihood_<view>`` (its bound) and
    ``kl`` (minus KL(q(Z) || N(0, prior_scale^2)), once)."""
    with pm.Model(coords=coords_for_views(data, views, latent_dim)) as model:
        mean = pm.Flat("Z_mean", dims=("obs", "latent_dim"))
        variance = pm.HalfFlat("Z_var", dims=("obs", "latent_dim"))
        for view in views:
            pm.Potential(view.variable("log_likelihood"), _view_term(data, view, mean, variance))
        pm.Potential("kl", -gaussian_kl(mean, variance, prior_scale))
    return model
