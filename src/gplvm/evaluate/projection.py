"""Latent positions for new rows of data under a fitted run (GPy's ``infer_newX``).

For a new row y* (in the run's fitted units: centred, and scaled when the run standardised) the
projection of a point fit (MAP, or each draw of a NUTS run) maximises log p(y* | z*, fit) + log p(z*)
over z*, with the training latents and the hyperparameters fixed. Given the fit, each column of y*
is Gaussian with the GP predictive mean m_d(z*) and the variance v(z*) that all columns share, so

    log p(y* | z*) = -D/2 log(2 pi v(z*)) - ||y* - m(z*)||^2 / (2 v(z*)),   z* ~ N(0, s^2 I).

(When the training data had missing cells each column is predicted from its observed rows and
has its own variance v_d(z*); the sum then runs over the columns. A new row's own missing cells,
NaN, are left out of its sum: D is then its number of observed cells.) Its uncertainty is Laplace's:
the inverse Hessian of the negative objective at the optimum.

A Bayesian GPLVM run instead gives each new row its own q(z*) = N(mu*, diag s*), which maximises
that row's share of the bound with the training q(Z), the inducing inputs, the hyperparameters and
their optimal q(u) fixed (:mod:`gplvm.evaluate.projection_objectives`); Z_sd is sqrt(s*).

Rows are independent given the fit, so they are optimised as a batch of small problems by a
vectorised Newton method with exact gradients and Hessians (:mod:`gplvm.evaluate.row_newton`).
The objective is multimodal for non-linear kernels, and the latent of the nearest training row
(GPy's start) is often in the wrong mode, so each row starts from the few points where its point
objective is highest among the training latents and as many uniform points in their box (the
predictions there are shared by every new row: one prediction per candidate), and keeps its best
optimum. For a run with draws (NUTS) each of up to ``max_draws`` draws (evenly spaced) is
projected with its own aligned latents and hyperparameters, and the sd combines the spread of the
draws' optima with their Laplace variances (the law of total variance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gplvm.evaluate.projection_objectives import PointObjective, VariationalObjective
from gplvm.evaluate.row_newton import RowOptima, maximise_rows
from gplvm.model.constants import LOG_2PI
from gplvm.model.predictive import predict_groups
from gplvm.model.variational_bound import optimal_q_u_factors

CHUNK_ROWS = 1024  # new rows optimised together: memory O(CHUNK_ROWS x (candidates + M^2))
MAX_CANDIDATES = 5000  # starting points scored per new row (see candidate_latents)
STARTS = 4  # the best candidates each row is optimised from


@dataclass
class Projection:
    """Latents for new rows: ``Z`` and ``Z_sd`` (n, Q), and the objective at ``Z`` (n,).

    ``method`` is ``laplace`` (optima of point fits, Laplace and draws' spread in Z_sd),
    ``variational`` (each row's q(z*): Z its mean, Z_sd its sd, objective its bound) or
    ``back_constraint`` (z* = g(y*), no optimisation: Z_sd the spread over draws, objective NaN).
    """

    Z: np.ndarray
    Z_sd: np.ndarray
    objective: np.ndarray
    n_draws: int
    method: str = "laplace"
    converged: np.ndarray | None = None  # (n,): each row's optimiser converged (under every fit)
    optimised_distance: np.ndarray | None = None  # (n,) back-constrained: g's placement to the optimum's


def log_objective(scaled_sq_error, log_var_sum, z_sq, n_features, latent_dim: int, prior_scale: float):
    """log p(y* | z*, fit) + log p(z*) (broadcasting) from sum_d (y*_d - m_d(z*))^2 / v_d(z*),
    sum_d log v_d(z*) and ||z*||^2."""
    log_lik = -0.5 * (n_features * LOG_2PI + log_var_sum) - 0.5 * scaled_sq_error
    log_prior = -0.5 * z_sq / prior_scale**2 - latent_dim * (np.log(prior_scale) + 0.5 * LOG_2PI)
    return log_lik + log_prior


def _per_column(var: np.ndarray, n_features: int) -> np.ndarray:
    """Predictive variances as (n, D): a shared one (n,) repeated (data without missing cells)."""
    return var if var.ndim == 2 else np.repeat(var[:, None], n_features, axis=1)


def candidate_latents(Z_train: np.ndarray, seed: int = 0) -> np.ndarray:
    """Starting points to try: the training latents and as many uniform points in their box.

    The box (padded by 10%) covers the regions between training latents, where the predictive
    variance is larger and the objective's modes often are. At most ``MAX_CANDIDATES`` in all.
    """
    rng = np.random.default_rng(seed)
    half = MAX_CANDIDATES // 2
    known = Z_train if len(Z_train) <= half else Z_train[rng.choice(len(Z_train), half, replace=False)]
    lo, hi = Z_train.min(axis=0), Z_train.max(axis=0)
    pad = 0.1 * (hi - lo)
    box = rng.uniform(lo - pad, hi + pad, size=(max(len(known), 256), Z_train.shape[1]))
    return np.vstack([known, box])


def best_starts(predict, candidates: np.ndarray, Y_new: np.ndarray, prior_scale: float, k: int) -> np.ndarray:
    """For each new row, the ``k`` candidates with the highest objective, shape (k, n, Q), best first."""
    mean, var = predict(candidates)  # (C, D) and (C,) or (C, D): the same for every new row
    precision = 1.0 / _per_column(var, Y_new.shape[1])
    observed = (~np.isnan(Y_new)).astype(float)  # a new row's missing cells count nowhere
    Y_0 = np.where(observed > 0, Y_new, 0.0)
    # sum over row i's observed d of (y_id - m_cd)^2 / v_cd, for every (i, c), by matrix products
    scaled = (Y_0**2) @ precision.T - 2.0 * Y_0 @ (mean * precision).T + observed @ (mean**2 * precision).T
    log_var_sum = -observed @ np.log(precision).T
    z_sq = np.sum(candidates**2, axis=1)
    n_observed = observed.sum(axis=1)[:, None]
    score = log_objective(scaled, log_var_sum, z_sq[None, :], n_observed, candidates.shape[1], prior_scale)
    order = np.argsort(-score, axis=1)[:, :k]  # (n, k)
    return np.transpose(candidates[order], (1, 0, 2))


def _laplace_sd(hessian: np.ndarray) -> np.ndarray:
    """sqrt(diag(-H^-1)) per row from the objective's Hessians (n, Q, Q); NaN where -H is not PD."""
    sd = np.full(hessian.shape[:2], np.nan)
    for i, H in enumerate(hessian):
        try:
            np.linalg.cholesky(-H)
        except np.linalg.LinAlgError:
            continue
        sd[i] = np.sqrt(np.diag(np.linalg.inv(-H)))
    return sd


def _best_of_starts(objective, Y_chunk: np.ndarray, starts: np.ndarray, use) -> RowOptima:
    """Optimise every row of ``Y_chunk`` from each of its starts (k, n, P); keep each row's best."""
    k, n, n_params = starts.shape
    use(np.tile(Y_chunk, (k, 1)))
    opt = maximise_rows(objective.value_grad_hess, objective.value, starts.reshape(k * n, n_params))
    value = np.where(np.isfinite(opt.value), opt.value, -np.inf).reshape(k, n)
    best = np.argmax(value, axis=0) * n + np.arange(n)
    return RowOptima(opt.x[best], opt.value[best], opt.hessian[best], opt.converged[best], opt.iterations)


def _chunks(n_rows: int):
    return [slice(s, s + CHUNK_ROWS) for s in range(0, n_rows, CHUNK_ROWS)]


def project_point(
    objective: PointObjective,
    predict,
    groups,
    hyper: dict,
    Z_train: np.ndarray,
    Y_new: np.ndarray,
    prior_scale: float,
    starts: int = STARTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(z*, Laplace sd, objective, converged) for every new row, under one fit (latents and
    hyperparameters)."""
    candidates = candidate_latents(Z_train)
    n_rows, latent_dim = len(Y_new), Z_train.shape[1]
    Z, sd = np.empty((n_rows, latent_dim)), np.empty((n_rows, latent_dim))
    value, converged = np.empty(n_rows), np.empty(n_rows, dtype=bool)
    for rows in _chunks(n_rows):
        Y_chunk = Y_new[rows]
        first = best_starts(predict, candidates, Y_chunk, prior_scale, starts)
        best = _best_of_starts(objective, Y_chunk, first, lambda Y: objective.use(Y, hyper, groups))
        Z[rows], sd[rows], value[rows] = best.x, _laplace_sd(best.hessian), best.value
        converged[rows] = best.converged
    return Z, sd, value, converged


def project(form, fits, Y_train: np.ndarray, Y_new: np.ndarray, prior_scale: float) -> Projection:
    """Project ``Y_new`` (fitted units) under each point fit in ``fits`` and combine them.

    ``fits`` holds (training latents, hyperparameters, R): each fit is projected in its own frame
    and its optima are turned by the orthogonal R into a common one (the identity for a point
    estimate; for draws, the rotation that aligned that draw). With several fits Z is the mean of
    the optima and Z_sd^2 the mean Laplace variance plus the variance of the optima.
    """
    optima, variances, objectives = [], [], []
    converged = np.ones(len(Y_new), dtype=bool)
    objective = None
    for Z, hyper, R in fits:
        groups = form.predictive_factors(Z, Y_train, hyper)
        hyper = {name: np.asarray(value, dtype=float) for name, value in hyper.items()}
        if objective is None:  # one compile serves every draw
            objective = PointObjective(form.kernel, groups, hyper, prior_scale, Y_train.shape[1])

        def predict(Z_new, groups=groups, hyper=hyper):
            return predict_groups(groups, form.kernel, Z_new, hyper, Y_train.shape[1])

        z, sd, value, done = project_point(objective, predict, groups, hyper, Z, Y_new, prior_scale)
        converged &= done
        optima.append(z @ R)
        variances.append((sd**2) @ (R**2))  # a diagonal covariance turned by R, its diagonal kept
        objectives.append(value)
    optima = np.stack(optima)
    Z_sd = np.sqrt(np.mean(variances, axis=0) + optima.var(axis=0))
    return Projection(optima.mean(axis=0), Z_sd, np.mean(objectives, axis=0), len(fits), converged=converged)


def project_variational(
    form,
    q_mean: np.ndarray,
    q_variance: np.ndarray,
    hyper: dict,
    Y_train: np.ndarray,
    Y_new: np.ndarray,
    prior_scale: float,
    R: np.ndarray,
) -> Projection:
    """q(z*) for each row of ``Y_new`` under a Bayesian GPLVM fit (module docstring), turned by R.

    Each row starts from its optimum under the point objective of the optimal q(u) (itself from
    the best of several starts), with the training q's median variance per dim: one start of the
    bound per row, whose every evaluation costs O(M^2 Q) against O(M (Q + D)) for the point's.
    """
    groups = optimal_q_u_factors(form, q_mean, q_variance, Y_train, hyper)
    hyper = {name: np.asarray(value, dtype=float) for name, value in hyper.items()}
    n_features, latent_dim = Y_train.shape[1], q_mean.shape[1]
    point = PointObjective(form.kernel, groups, hyper, prior_scale, n_features)

    def predict(Z_new):
        return predict_groups(groups, form.kernel, Z_new, hyper, n_features)

    start = project_point(point, predict, groups, hyper, q_mean, Y_new, prior_scale)[0]
    objective = VariationalObjective(form.kernel, hyper, prior_scale, n_features, latent_dim)
    log_variance = np.broadcast_to(np.log(np.median(q_variance, axis=0)), start.shape)
    x0 = np.concatenate([start, log_variance], axis=1)[None]
    mean = np.empty((len(Y_new), latent_dim))
    variance, value = np.empty_like(mean), np.empty(len(Y_new))
    converged = np.empty(len(Y_new), dtype=bool)

    def use(Y: np.ndarray) -> None:
        objective.use(Y, hyper, groups, n_features)

    for rows in _chunks(len(Y_new)):
        best = _best_of_starts(objective, Y_new[rows], x0[:, rows], use)
        mean[rows], variance[rows], value[rows] = (
            best.x[:, :latent_dim],
            np.exp(best.x[:, latent_dim:]),
            best.value,
        )
        converged[rows] = best.converged
    return Projection(mean @ R, np.sqrt(variance @ R**2), value, 1, "variational", converged)


def project_through_mapping(
    mapping, fits: list[tuple[np.ndarray, np.ndarray]], Y_new: np.ndarray
) -> Projection:
    """z* = g(y*) for a back-constrained run: no optimisation, one matrix product per fit.

    ``fits`` holds (weights, rotation into the common frame) per point fit or draw; Z is the
    mean of the draws' placements and Z_sd their spread (0 for a point fit).
    """
    features = mapping.features(Y_new)
    placements = np.stack([features @ weights @ R for weights, R in fits])
    n = len(Y_new)
    return Projection(
        Z=placements.mean(axis=0),
        Z_sd=placements.std(axis=0),
        objective=np.full(n, np.nan),
        n_draws=len(fits),
        method="back_constraint",
        converged=np.ones(n, dtype=bool),
    )
