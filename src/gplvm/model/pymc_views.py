"""The multi-view GPLVM (MRD) as a ``pm.Model``: one q(Z) (or one Z, for a MAP), a sparse bound per view."""

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


def _view_term(data: Dataset, view: ViewSpec, latents):
    """View v's variables (suffixed) and its sparse bound: under the shared q(Z) when ``latents`` is
    its (mean, variance), at Z itself when it is Z (a MAP).

    Rows that lack the whole view are left out of its bound (a complete-data bound over the rest);
    only cells missing within observed rows need the per-column bound."""
    spec = view.spec
    Y = data.Y[:, view.columns]
    missing = np.isnan(Y)
    Y_data = pm.Data(view.variable("Y"), filled(Y) if missing.any() else Y, dims=("obs", view.dim("feature")))
    hyper = hyperparameter_variables(spec, view.variable)
    for name in spec.form.parameter_dims:
        hyper[name] = pm.Flat(view.variable(name), dims=view.parameter_dims(name))
    present = ~missing.all(axis=1)
    if not present.all():
        rows = np.flatnonzero(present)
        latents = tuple(x[rows] for x in latents) if isinstance(latents, tuple) else latents[rows]
        Y_data, missing = Y_data[rows], missing[rows]
    sq_norm = float(np.nansum(Y**2))
    if isinstance(latents, tuple):
        mean, variance = latents
        if missing.any():
            return expected_missing_log_likelihood(spec.form, mean, variance, Y_data, hyper, ~missing)
        return expected_log_likelihood(spec.form, mean, variance, Y_data, hyper, sq_norm)
    if missing.any():
        return spec.form.missing_log_likelihood(latents, Y_data, hyper, ~missing)
    return spec.form.log_likelihood(latents, Y_data, hyper, sq_norm)


def build_multiview_model(
    data: Dataset, views: list[ViewSpec], latent_dim: int, prior_scale: float, point: bool = False
) -> pm.Model:
    """MRD's objective: free ``Z_mean`` and ``Z_var`` shared by every view; per view its learned
    hyperparameters and inducing inputs; potentials ``log_likelihood_<view>`` (its bound) and
    ``kl`` (minus KL(q(Z) || N(0, prior_scale^2)), once).

    ``point``: the MAP's model instead, ``Z ~ Normal(0, prior_scale)`` and each view's sparse
    bound at Z (the single-view ``model.likelihood=sparse``, summed over views)."""
    with pm.Model(coords=coords_for_views(data, views, latent_dim)) as model:
        dims = ("obs", "latent_dim")
        if point:
            latents = pm.Normal("Z", mu=0.0, sigma=np.float64(prior_scale), dims=dims)
        else:
            latents = (pm.Flat("Z_mean", dims=dims), pm.HalfFlat("Z_var", dims=dims))
        for view in views:
            pm.Potential(view.variable("log_likelihood"), _view_term(data, view, latents))
        if not point:
            pm.Potential("kl", -gaussian_kl(*latents, prior_scale))
    return model
