"""Prediction across views: new rows seen in some views, their missing views predicted.

For a multi-view fit (:mod:`gplvm.model.views`) a new row y* observed in some views gets its own
q(z*) = N(mu*, diag s*) maximising

    sum_v F_v(y*_v; q(z*)) - KL(q(z*) || N(0, s^2 I)),

F_v view v's bound for the row's observed cells with the training q(Z), that view's inducing
inputs, hyperparameters and optimal q(u) held fixed (a view the row lacks adds nothing): the
single-view objective of :mod:`gplvm.evaluate.projection_objectives` per view, summed, with the
KL counted once. Each missing view is then predicted at q(z*): its predictive mean and variance
averaged over seeded draws of z* (the law of total variance carries q(z*)'s spread into y*).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gplvm.evaluate.projection_objectives import VariationalObjective
from gplvm.evaluate.row_newton import maximise_rows
from gplvm.model.latent_priors import QMoments
from gplvm.model.predictive import predict_groups
from gplvm.model.variational_bound import optimal_q_u_factors
from gplvm.model.views import ViewSpec

LATENT_DRAWS = 64  # draws of z* per new row for the predictive moments


@dataclass(frozen=True)
class AcrossViews:
    """New rows' q(z*) and every view's prediction (observed ones too), in the fitted units."""

    Z: np.ndarray
    Z_sd: np.ndarray
    mean: np.ndarray  # (n*, D): predictive means of every column
    sd: np.ndarray  # (n*, D)
    converged: np.ndarray


class _SummedObjective:
    """Views' row objectives summed, each carrying -KL: add back all but one KL."""

    def __init__(self, objectives: list[VariationalObjective], latent_dim: int, prior_scale: float) -> None:
        self.objectives, self.latent_dim, self.s2 = objectives, latent_dim, prior_scale**2

    def _kl(self, x: np.ndarray):
        q = self.latent_dim
        mean, variance = x[:, :q], np.exp(x[:, q:])
        value = 0.5 * np.sum(
            variance / self.s2 + mean**2 / self.s2 - 1.0 - np.log(variance / self.s2), axis=1
        )
        grad = np.concatenate([mean / self.s2, 0.5 * (variance / self.s2 - 1.0)], axis=1)
        hess = np.zeros((len(x), 2 * q, 2 * q))
        idx = np.arange(q)
        hess[:, idx, idx] = 1.0 / self.s2
        hess[:, q + idx, q + idx] = 0.5 * variance / self.s2
        return value, grad, hess

    def value(self, x, rows):
        extra = len(self.objectives) - 1
        return sum(o.value(x, rows) for o in self.objectives) + extra * self._kl(x)[0]

    def value_grad_hess(self, x, rows):
        parts = [o.value_grad_hess(x, rows) for o in self.objectives]
        kl = self._kl(x)
        extra = len(self.objectives) - 1
        return tuple(sum(p[i] for p in parts) + extra * kl[i] for i in range(3))


def predict_across_views(
    views: list[ViewSpec],
    values: dict[str, dict],
    q: QMoments,
    Y_train: np.ndarray,
    Y_new: np.ndarray,
    prior_scale: float,
    seed: int = 0,
) -> AcrossViews:
    """q(z*) for each row of ``Y_new`` (n*, D in the fitted units, NaN where unobserved: a whole
    view NaN when the row lacks it) and every column's predictive mean and sd."""
    latent_dim = q.mean.shape[1]
    objectives, factors = [], {}
    for view in views:
        hyper = {k: np.asarray(v, dtype=float) for k, v in values[view.name].items()}
        groups = optimal_q_u_factors(view.spec.form, q.mean, q.variance, Y_train[:, view.columns], hyper)
        factors[view.name] = (groups, hyper)
        objective = VariationalObjective(view.spec.kernel, hyper, prior_scale, len(view.columns), latent_dim)
        objective.use(Y_new[:, view.columns], hyper, groups, len(view.columns))
        objectives.append(objective)
    summed = _SummedObjective(objectives, latent_dim, prior_scale)
    # start each row at the training latent whose data is nearest in the row's observed cells
    observed = ~np.isnan(Y_new)
    gaps = np.where(observed[:, None, :], np.nan_to_num(Y_new)[:, None, :] - Y_train[None], 0.0)
    nearest = np.argmin(np.nansum(gaps**2, axis=-1), axis=1)
    log_variance = np.broadcast_to(np.log(np.median(q.variance, axis=0)), (len(Y_new), latent_dim))
    x0 = np.concatenate([q.mean[nearest], log_variance], axis=1)
    opt = maximise_rows(summed.value_grad_hess, summed.value, x0)
    mean_z, var_z = opt.x[:, :latent_dim], np.exp(opt.x[:, latent_dim:])
    rng = np.random.default_rng([seed, 5])
    draws = mean_z + np.sqrt(var_z) * rng.standard_normal((LATENT_DRAWS, *mean_z.shape))
    mean = np.empty(Y_new.shape)
    sd = np.empty(Y_new.shape)
    for view in views:
        groups, hyper = factors[view.name]
        n_cols = len(view.columns)
        moments = [predict_groups(groups, view.spec.kernel, z, hyper, n_cols) for z in draws]
        means = np.stack([m for m, _ in moments])
        variances = np.stack([np.broadcast_to(v if v.ndim == 2 else v[:, None], m.shape) for m, v in moments])
        mean[:, view.columns] = means.mean(axis=0)
        sd[:, view.columns] = np.sqrt(variances.mean(axis=0) + means.var(axis=0))
    return AcrossViews(mean_z, np.sqrt(var_z), mean, sd, opt.converged)
