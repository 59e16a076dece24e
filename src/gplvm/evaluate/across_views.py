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
CLASS_DRAWS = 16  # draws of f per draw of z* for a label view's class probabilities


@dataclass(frozen=True)
class AcrossViews:
    """New rows' q(z*) and every view's prediction (observed ones too), in the fitted units."""

    Z: np.ndarray
    Z_sd: np.ndarray
    mean: np.ndarray  # (n*, D): predictive means of every column
    sd: np.ndarray  # (n*, D)
    converged: np.ndarray
    class_probability: np.ndarray | None = None  # (n*, C) with a label view


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


class ViewPredictor:
    """Every view's predictive distribution given the fit (its optimal q(u) factors), at any q(z*)."""

    def __init__(
        self, views: list[ViewSpec], values: dict[str, dict], q: QMoments, Y_train: np.ndarray
    ) -> None:
        self.views, self.q, self.n_features = views, q, Y_train.shape[1]
        self.hyper = {
            v.name: {k: np.asarray(x, dtype=float) for k, x in values[v.name].items()} for v in views
        }
        self.groups = {
            v.name: optimal_q_u_factors(
                v.spec.form, q.mean, q.variance, Y_train[:, v.columns], self.hyper[v.name]
            )
            for v in views
        }

    def draws(self, mean_z: np.ndarray, var_z: np.ndarray, seed: int) -> np.ndarray:
        """Seeded draws of z* from q(z*) (LATENT_DRAWS, n, Q)."""
        rng = np.random.default_rng([seed, 5])
        return mean_z + np.sqrt(var_z) * rng.standard_normal((LATENT_DRAWS, *mean_z.shape))

    def view_moments(self, view: ViewSpec, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """At each draw: the view's means (S, n, D_v), the variance of f (S, n, D_v) and the noise
        variance of each column (D_v,)."""
        groups, hyper, n_cols = self.groups[view.name], self.hyper[view.name], len(view.columns)
        noise = np.empty(n_cols)
        for group in groups:
            noise[slice(None) if group.columns is None else group.columns] = group.noise
        moments = [predict_groups(groups, view.spec.kernel, z, hyper, n_cols) for z in draws]
        means = np.stack([m for m, _ in moments])
        variances = np.stack([np.broadcast_to(v if v.ndim == 2 else v[:, None], m.shape) for m, v in moments])
        return means, np.maximum(variances - noise, 0.0), noise

    def predict(self, mean_z: np.ndarray, var_z: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Every column's predictive mean and sd (noise included) at q(z*), z* integrated out;
        NaN in columns that no view holds."""
        draws = self.draws(mean_z, var_z, seed)
        mean = np.full((len(mean_z), self.n_features), np.nan)
        sd = np.full_like(mean, np.nan)
        for view in self.views:
            means, f_var, noise = self.view_moments(view, draws)
            mean[:, view.columns] = means.mean(axis=0)
            sd[:, view.columns] = np.sqrt(f_var.mean(axis=0) + noise + means.var(axis=0))
        return mean, sd


def infer_rows(
    predictor: ViewPredictor,
    Y_train: np.ndarray,
    Y_new: np.ndarray,
    prior_scale: float,
):
    """Each new row's q(z*) from its observed views: means, variances and which converged."""
    q, latent_dim = predictor.q, predictor.q.mean.shape[1]
    objectives = []
    for view in predictor.views:
        hyper = predictor.hyper[view.name]
        objective = VariationalObjective(view.spec.kernel, hyper, prior_scale, len(view.columns), latent_dim)
        objective.use(Y_new[:, view.columns], hyper, predictor.groups[view.name], len(view.columns))
        objectives.append(objective)
    summed = _SummedObjective(objectives, latent_dim, prior_scale)
    # start each row at the training latent whose data is nearest in the row's observed cells
    observed = ~np.isnan(Y_new)
    gaps = np.where(observed[:, None, :], np.nan_to_num(Y_new)[:, None, :] - Y_train[None], 0.0)
    nearest = np.argmin(np.nansum(gaps**2, axis=-1), axis=1)
    start_variance = np.maximum(np.median(q.variance, axis=0), 1e-2 * prior_scale**2)  # a MAP's are 0
    log_variance = np.broadcast_to(np.log(start_variance), (len(Y_new), latent_dim))
    x0 = np.concatenate([q.mean[nearest], log_variance], axis=1)
    opt = maximise_rows(summed.value_grad_hess, summed.value, x0)
    return opt.x[:, :latent_dim], np.exp(opt.x[:, latent_dim:]), opt.converged


def predict_across_views(
    views: list[ViewSpec],
    values: dict[str, dict],
    q: QMoments,
    Y_train: np.ndarray,
    Y_new: np.ndarray,
    prior_scale: float,
    seed: int = 0,
    label_view: str | None = None,
) -> AcrossViews:
    """q(z*) for each row of ``Y_new`` (n*, D in the fitted units, NaN where unobserved: a whole
    view NaN when the row lacks it) and every column's predictive mean and sd; with ``label_view``
    (a one-hot view's name) each class's probability too (:func:`class_probabilities`)."""
    predictor = ViewPredictor(views, values, q, Y_train)
    mean_z, var_z, converged = infer_rows(predictor, Y_train, Y_new, prior_scale)
    mean, sd = predictor.predict(mean_z, var_z, seed)
    probabilities = None
    if label_view is not None:
        view = next(v for v in views if v.name == label_view)
        probabilities = class_probabilities(predictor, view, mean_z, var_z, seed)
    return AcrossViews(mean_z, np.sqrt(var_z), mean, sd, converged, probabilities)


def class_probabilities(
    predictor: ViewPredictor, view: ViewSpec, mean_z: np.ndarray, var_z: np.ndarray, seed: int
) -> np.ndarray:
    """Each class's probability (n, C) for a one-hot label view at q(z*): the share of draws of
    (z*, f) in which its column's f is the largest (z* from q(z*), f from its predictive)."""
    means, f_var, _ = predictor.view_moments(view, predictor.draws(mean_z, var_z, seed))
    rng = np.random.default_rng([seed, 11])
    noise = rng.standard_normal((CLASS_DRAWS, *means.shape))
    f = means[None] + np.sqrt(f_var)[None] * noise  # (T, S, n, C)
    winners = np.argmax(f, axis=-1).reshape(-1, means.shape[1])
    counts = np.stack([np.sum(winners == c, axis=0) for c in range(means.shape[2])], axis=1)
    return counts / winners.shape[0]
