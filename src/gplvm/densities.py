"""Log densities of the GPLVM for any kernel, in NumPy, at given latents and hyperparameters.

These evaluate fitted points and posterior draws independently of the PyTensor graph that was
fitted. The linear kernel goes through the Woodbury identity of :mod:`gplvm.closed_form` (no
N x N matrix); rbf factorises the dense K, O(N^3) per point.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import stats
from scipy.linalg import solve_triangular

from gplvm import closed_form
from gplvm.config import ModelConfig, PriorConfig, PriorDist
from gplvm.errors import NumericalError
from gplvm.kernels import covariance_np

LOG_2PI = closed_form.LOG_2PI


def describe(hyper: Mapping, jitter: float | None = None) -> str:
    """``beta=..., variance=..., ...`` for error messages."""
    parts = [f"{k}={np.array2string(np.asarray(v), precision=4)}" for k, v in hyper.items()]
    if jitter is not None:
        parts.append(f"jitter={jitter:g}")
    return ", ".join(parts)


def cholesky(K: np.ndarray, hyper: Mapping, jitter: float, where: str) -> np.ndarray:
    """Lower Cholesky factor of K, or a NumericalError naming the hyperparameters and a remedy."""
    try:
        return np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        smallest = float(np.linalg.eigvalsh(K)[0]) if len(K) <= 5000 else float("nan")
        raise NumericalError(
            f"K is not positive definite {where} ({describe(hyper, jitter)}; smallest eigenvalue"
            f" {smallest:.3g}): raise model.jitter (e.g. 1e-4) or lower model.beta"
        ) from None


def column_log_likelihoods(
    Z: np.ndarray, Y: np.ndarray, cfg: ModelConfig, hyper: Mapping, where: str = "at the fitted point"
) -> np.ndarray:
    """Log density of each column of Y under N(0, K(Z)), shape (D,)."""
    if cfg.kernel == "linear":
        return closed_form.column_log_likelihoods(Z, Y, float(hyper["beta"]))
    L = cholesky(covariance_np(Z, cfg.kernel.value, hyper, cfg.jitter), hyper, cfg.jitter, where)
    A = solve_triangular(L, Y, lower=True)
    logdet = 2.0 * np.sum(np.log(np.diag(L)))
    return -0.5 * logdet - 0.5 * np.sum(A**2, axis=0) - 0.5 * len(Y) * LOG_2PI


def log_likelihood(
    Z: np.ndarray, Y: np.ndarray, cfg: ModelConfig, hyper: Mapping, where: str = "at the fitted point"
) -> float:
    """Eq. 1 with its constant for the configured kernel."""
    return float(np.sum(column_log_likelihoods(Z, Y, cfg, hyper, where)))


def prior_log_density(value, prior: PriorConfig) -> float:
    """Log density of a hyperparameter value (scalar or array) under its prior, summed."""
    value = np.asarray(value, dtype=float)
    if prior.dist == PriorDist.lognormal:
        return float(np.sum(stats.lognorm.logpdf(value, s=prior.sigma, scale=np.exp(prior.mu))))
    return float(np.sum(stats.halfnorm.logpdf(value, scale=prior.sigma)))


def log_prior(Z: np.ndarray, cfg: ModelConfig, hyper: Mapping) -> float:
    """The Normal prior on Z plus the priors of the learned hyperparameters.

    Densities are of the hyperparameters themselves (no Jacobian of PyMC's log transform): with
    the log-likelihood this is the quantity ``pm.find_MAP`` maximises.
    """
    out = closed_form.log_prior(Z, cfg.prior_scale)
    for name in cfg.learned():
        out += prior_log_density(hyper[name], getattr(cfg.priors, name))
    return out


def log_posterior(
    Z: np.ndarray, Y: np.ndarray, cfg: ModelConfig, hyper: Mapping, where: str = "at the fitted point"
) -> float:
    """Unnormalised log posterior: eq. 1 with its constant plus :func:`log_prior`."""
    return log_likelihood(Z, Y, cfg, hyper, where) + log_prior(Z, cfg, hyper)
