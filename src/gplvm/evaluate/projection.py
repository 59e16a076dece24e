"""Latent positions for new rows of data under a fitted run (GPy's ``infer_newX``).

For a new row y* (in the run's fitted units: centred, and scaled when the run standardised) the
projection maximises log p(y* | z*, fit) + log p(z*) over z*, with the training latents and the
hyperparameters fixed. Given the fit, each column of y* is Gaussian with the GP predictive mean
m_d(z*) and the variance v(z*) that all columns share, so

    log p(y* | z*) = -D/2 log(2 pi v(z*)) - ||y* - m(z*)||^2 / (2 v(z*)),   z* ~ N(0, s^2 I).

(When the training data had missing cells each column is predicted from its observed rows and
has its own variance v_d(z*); the sum then runs over the columns. A new row's own missing cells,
NaN, are left out of its sum: D is then its number of observed cells.)

The objective is multimodal for non-linear kernels, and the latent of the nearest training row
(GPy's start) is often in the wrong mode, so each row is optimised from the few points where its
objective is highest among the training latents and as many uniform points in their box (the
predictions there are shared by every new row: one prediction per candidate). The rows are optimised
together (their objectives are independent, so one L-BFGS-B over all of them), with gradients by
central differences: Q is small, and every evaluation is one batched prediction. The uncertainty
is Laplace's: the inverse Hessian of the negative objective at the optimum, by finite differences.
For a run with draws (NUTS, variational) each of up to ``max_draws`` draws (evenly spaced) is
projected with its own aligned latents and hyperparameters, and the sd combines the spread of the
draws' optima with their Laplace variances (the law of total variance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from gplvm.model.constants import LOG_2PI

STEP = 1e-5  # finite-difference step, relative to the spread of the training latents
MAX_CANDIDATES = 5000  # starting points scored per new row (see candidate_latents)
STARTS = 4  # the best candidates each row is optimised from


@dataclass
class Projection:
    """Latents for new rows: ``Z`` and ``Z_sd`` (n, Q), and the objective at ``Z`` (n,)."""

    Z: np.ndarray
    Z_sd: np.ndarray
    objective: np.ndarray
    n_draws: int


def log_objective(scaled_sq_error, log_var_sum, z_sq, n_features, latent_dim: int, prior_scale: float):
    """log p(y* | z*, fit) + log p(z*) (broadcasting) from sum_d (y*_d - m_d(z*))^2 / v_d(z*),
    sum_d log v_d(z*) and ||z*||^2."""
    log_lik = -0.5 * (n_features * LOG_2PI + log_var_sum) - 0.5 * scaled_sq_error
    log_prior = -0.5 * z_sq / prior_scale**2 - latent_dim * (np.log(prior_scale) + 0.5 * LOG_2PI)
    return log_lik + log_prior


def row_objectives(predict, Y_new: np.ndarray, Z_new: np.ndarray, prior_scale: float) -> np.ndarray:
    """log p(y*_i | z*_i, fit) + log p(z*_i) for every row i, shape (n,)."""
    mean, var = predict(Z_new)
    var = _per_column(var, Y_new.shape[1])
    observed = ~np.isnan(Y_new)
    scaled = np.sum(np.where(observed, (Y_new - mean) ** 2 / var, 0.0), axis=1)
    log_var_sum = np.sum(np.where(observed, np.log(var), 0.0), axis=1)
    n_observed = observed.sum(axis=1)
    return log_objective(
        scaled, log_var_sum, np.sum(Z_new**2, axis=1), n_observed, Z_new.shape[1], prior_scale
    )


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


def _laplace_sd(f, Z: np.ndarray, h: float) -> np.ndarray:
    """sqrt(diag(H^-1)) per row, H the Hessian of -f (central differences); NaN where H is not PD."""
    n, q = Z.shape
    H = np.empty((n, q, q))
    eye = np.eye(q) * h
    for a in range(q):
        for b in range(a, q):
            value = (
                f(Z + eye[a] + eye[b])
                - f(Z + eye[a] - eye[b])
                - f(Z - eye[a] + eye[b])
                + f(Z - eye[a] - eye[b])
            ) / (4 * h * h)
            H[:, a, b] = H[:, b, a] = -value
    sd = np.full((n, q), np.nan)
    for i in range(n):
        try:
            np.linalg.cholesky(H[i])
        except np.linalg.LinAlgError:
            continue
        sd[i] = np.sqrt(np.diag(np.linalg.inv(H[i])))
    return sd


def project_point(
    predict,
    Z_train: np.ndarray,
    Y_new: np.ndarray,
    prior_scale: float,
    starts: int = STARTS,
    maxiter: int = 500,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z*, Laplace sd, objective) for every new row, under one fit (latents and hyperparameters).

    L-BFGS-B runs from each row's ``starts`` best candidates (see :func:`candidate_latents`);
    each row keeps its best optimum.
    """
    n, q = len(Y_new), Z_train.shape[1]
    h = STEP * max(float(Z_train.std()), 1e-12)

    def f(Z: np.ndarray) -> np.ndarray:
        return row_objectives(predict, Y_new, Z, prior_scale)

    def loss(x: np.ndarray) -> tuple[float, np.ndarray]:
        Z = x.reshape(n, q)
        grad = np.empty((n, q))
        for a in range(q):
            step = np.zeros(q)
            step[a] = h
            grad[:, a] = (f(Z + step) - f(Z - step)) / (2 * h)
        return -float(np.sum(f(Z))), -grad.ravel()

    best_Z, best_value = None, np.full(n, -np.inf)
    for start in best_starts(predict, candidate_latents(Z_train), Y_new, prior_scale, starts):
        result = minimize(loss, start.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
        Z = result.x.reshape(n, q)
        value = f(Z)
        better = value > best_value
        best_Z = Z if best_Z is None else np.where(better[:, None], Z, best_Z)
        best_value = np.maximum(value, best_value)
    return best_Z, _laplace_sd(f, best_Z, 100 * h), best_value


def project(form, fits, Y_train: np.ndarray, Y_new: np.ndarray, prior_scale: float) -> Projection:
    """Project ``Y_new`` (fitted units) under each fit in ``fits`` and combine them.

    ``fits`` holds (training latents, hyperparameters, R): each fit is projected in its own frame
    and its optima are turned by the orthogonal R into a common one (the identity for a point
    estimate; for draws, the rotation that aligned that draw). With several fits Z is the mean of
    the optima and Z_sd^2 the mean Laplace variance plus the variance of the optima.
    """
    optima, variances, objectives = [], [], []
    for Z, hyper, R in fits:
        z, sd, objective = project_point(form.predictor(Z, Y_train, hyper), Z, Y_new, prior_scale)
        optima.append(z @ R)
        variances.append((sd**2) @ (R**2))  # a diagonal covariance turned by R, its diagonal kept
        objectives.append(objective)
    optima = np.stack(optima)
    Z_sd = np.sqrt(np.mean(variances, axis=0) + optima.var(axis=0))
    return Projection(optima.mean(axis=0), Z_sd, np.mean(objectives, axis=0), len(fits))
