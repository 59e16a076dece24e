"""Fitting the multi-view Bayesian GPLVM (MRD): L-BFGS-B on the shared q(Z), every view's
hyperparameters and inducing inputs (see :mod:`gplvm.model.views`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gplvm.config import ModelConfig, VariationalConfig
from gplvm.data.dataset import Dataset
from gplvm.inference.base import initial_latents
from gplvm.inference.map import fit_map
from gplvm.inference.variational import draws_from_q, initial_variances
from gplvm.model.latent_priors import QMoments
from gplvm.model.pymc_views import build_multiview_model
from gplvm.model.spec import ModelSpec, prior_log_density
from gplvm.model.views import ViewSpec, relevance_matrix


@dataclass
class ViewsFit:
    """A fitted multi-view model: q(Z), each view's values (single-view names), draws from q."""

    views: list[ViewSpec]
    q: QMoments
    values: dict[str, dict[str, np.ndarray]]
    draws: np.ndarray
    elbo: float
    info: dict

    @property
    def relevance(self) -> np.ndarray:
        """Views x latent dims, each row divided by its largest (see :func:`relevance_matrix`)."""
        flat = {view.variable(k): v for view in self.views for k, v in self.values[view.name].items()}
        return relevance_matrix(self.views, flat)


def view_specs(cfg: ModelConfig, n_obs: int, views: dict[str, np.ndarray]) -> list[ViewSpec]:
    """One single-view spec per view (name -> its column indices), each with the model's settings
    and the sparse form (its own inducing inputs)."""
    spec = ModelSpec.from_config(cfg, n_obs).as_sparse()
    return [ViewSpec(name, columns, spec) for name, columns in views.items()]


def fit_views(
    data: Dataset, views: list[ViewSpec], cfg: VariationalConfig, prior_scale: float, seed: int
) -> ViewsFit:
    """Maximise the multi-view bound from a PCA start of all views together; q's draws after."""
    latent_dim = views[0].spec.latent_dim
    model = build_multiview_model(data, views, latent_dim, prior_scale)
    Z0 = initial_latents(data, latent_dim, cfg.init, prior_scale, seed)
    start = {"Z_mean": Z0, "Z_var": initial_variances(Z0.shape, cfg.init_variance, prior_scale, seed)}
    for i, view in enumerate(views):
        own = {**view.spec.starting_hyperparameters(), **view.spec.form.initial_parameters(Z0, seed + i)}
        start |= {view.variable(name): value for name, value in own.items()}
    opt = fit_map(model, start, cfg, seed)
    posterior = opt.idata.posterior
    point = {name: posterior[name].values[0, 0] for name in start}
    values = {view.name: view.values(point) for view in views}
    log_prior = sum(
        prior_log_density(values[view.name][name], view.spec.priors[name])
        for view in views
        for name in view.spec.learned
    )
    q = QMoments(point["Z_mean"], point["Z_var"])
    draws = draws_from_q(q.mean, q.variance, cfg.chains, cfg.draws, seed)
    elbo = -float(opt.idata["optimizer_result"]["fun"].values) - log_prior
    return ViewsFit(views, q, values, draws, elbo, {**opt.info, "fit_seconds": opt.fit_seconds})
