"""Count likelihoods with a log link: E_q[log p(y | f)] for f ~ N(m, v), in PyTensor and NumPy.

A cell y of a count matrix has mean mu = s exp(f), s the row's size factor (library size) and f
the latent function, Gaussian under the variational posterior: f ~ N(m, v). The bound needs each
cell's expected log likelihood under that Gaussian.

- Poisson: log p = y log mu - mu - log y!, so E = y (log s + m) - s exp(m + v / 2) - log y!,
  in closed form (the log-normal mean).
- Negative binomial with dispersion r (variance mu + mu^2 / r):
  log p = log G(y + r) - log G(r) - log y! + r log r + y log mu - (y + r) log(r + mu).
  E[log(r + s e^f)] has no closed form; Gauss-Hermite quadrature with ``GH_POINTS`` nodes
  integrates it (the integrand is smooth and close to linear in f far from log(r / s)).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from scipy.special import gammaln

GH_POINTS = 20
_NODES, _WEIGHTS = np.polynomial.hermite.hermgauss(GH_POINTS)
# For f ~ N(m, v): E[g(f)] = sum_k w_k g(m + sqrt(2 v) x_k) / sqrt(pi)
_GH_X = _NODES
_GH_W = _WEIGHTS / np.sqrt(np.pi)


def poisson_expected_log_lik(y, mean, variance, log_size):
    """E[log Poisson(y | exp(log_size + f))] for f ~ N(mean, variance), elementwise (PyTensor)."""
    y, mean, variance, log_size = (pt.as_tensor(x) for x in (y, mean, variance, log_size))
    return y * (log_size + mean) - pt.exp(log_size + mean + variance / 2) - pt.gammaln(y + 1.0)


def poisson_expected_log_lik_np(y, mean, variance, log_size) -> np.ndarray:
    """The same in NumPy: the part that depends on f plus :func:`poisson_constant_np`."""
    return y * (log_size + mean) - np.exp(log_size + mean + variance / 2) + poisson_constant_np(y)


def poisson_constant_np(y) -> np.ndarray:
    """The Poisson log likelihood's term free of f: -log y!."""
    return -gammaln(y + 1.0)


def _softplus(x):
    return pt.switch(x > 30, x, pt.log1p(pt.exp(pt.minimum(x, 30.0))))


def negative_binomial_expected_log_lik(y, mean, variance, log_size, dispersion):
    """E[log NB(y | mu = exp(log_size + f), r = dispersion)] for f ~ N(mean, variance),
    elementwise (PyTensor); the one non-closed term by Gauss-Hermite quadrature."""
    y, mean, variance, log_size = (pt.as_tensor(x) for x in (y, mean, variance, log_size))
    r = pt.as_tensor(dispersion)
    log_r = pt.log(r)
    # log(r + mu) = log r + softplus(log mu - log r), at each quadrature node of f
    nodes = mean[..., None] + pt.sqrt(2.0 * variance)[..., None] * _GH_X
    log_r_plus_mu = log_r[..., None] + _softplus(log_size[..., None] + nodes - log_r[..., None])
    expected_log_r_plus_mu = pt.sum(log_r_plus_mu * _GH_W, axis=-1)
    return (
        pt.gammaln(y + r)
        - pt.gammaln(r)
        - pt.gammaln(y + 1.0)
        + r * log_r
        + y * (log_size + mean)
        - (y + r) * expected_log_r_plus_mu
    )


def negative_binomial_expected_log_lik_np(
    y, mean, variance, log_size, dispersion, constant: bool = True
) -> np.ndarray:
    """The same in NumPy; without ``constant``, less :func:`negative_binomial_constant_np`."""
    r = np.asarray(dispersion, dtype=float)
    nodes = np.asarray(mean)[..., None] + np.sqrt(2.0 * np.asarray(variance))[..., None] * _GH_X
    log_r = np.log(r)[..., None]
    log_r_plus_mu = log_r + np.logaddexp(0.0, np.asarray(log_size)[..., None] + nodes - log_r)
    expected = np.sum(log_r_plus_mu * _GH_W, axis=-1)
    varying = y * (log_size + mean) - (y + r) * expected
    return varying + negative_binomial_constant_np(y, r) if constant else varying


def negative_binomial_constant_np(y, dispersion) -> np.ndarray:
    """The negative binomial's log likelihood's terms free of f: log G(y + r) - log G(r) - log y!
    + r log r."""
    r = np.asarray(dispersion, dtype=float)
    return gammaln(y + r) - gammaln(r) - gammaln(y + 1.0) + r * np.log(r)
