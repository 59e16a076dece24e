"""Covariance functions over the latent positions, in PyTensor and as NumPy references.

K(Z) = k(Z) + (beta^-1 + jitter) I for

- ``linear``: k = Z Z^T (no jitter: beta^-1 > 0 keeps K positive definite, and the woodbury
  form never factorises K);
- ``rbf``: k_ab = variance * exp(-||(z_a - z_b) / lengthscale||^2 / 2) + bias, with one length
  scale or one per latent dim (ARD).

Why jitter: an RBF matrix of N points is numerically low-rank (its eigenvalues decay faster than
any power), so when beta^-1 falls below about 1e-16 * N * variance the Cholesky factorisation of
K fails in floating point although K is positive definite in exact arithmetic. Adding
``jitter * (variance + bias)`` to the diagonal, relative to the diagonal of k so that it does not
depend on the data's units, keeps K factorisable. It acts as a floor on the noise variance.

The NumPy functions give k and its derivatives dk/dZ, dk/dvariance, dk/dlengthscale in closed
form, so that tests can chain eq. 3 through them by the Frobenius product and compare with
PyTensor's gradients.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytensor.tensor as pt
from scipy.linalg import solve_triangular
from scipy.spatial.distance import cdist


def rbf(
    Z: pt.TensorLike, variance: pt.TensorLike, lengthscale: pt.TensorLike, bias: pt.TensorLike = 0.0
) -> pt.TensorVariable:
    """RBF (squared exponential) kernel matrix of the rows of Z, without the noise term.

    ``lengthscale`` is a scalar or, for ARD, a vector of length Q.
    """
    Zs = pt.as_tensor(Z) / lengthscale
    sq = pt.sum(Zs**2, axis=1)
    d2 = pt.maximum(sq[:, None] + sq[None, :] - 2.0 * Zs @ Zs.T, 0.0)  # rounding can go below 0
    return variance * pt.exp(-0.5 * d2) + bias


def noise_variance(kernel: str, hyper: Mapping, jitter: float):
    """What is added to the diagonal of k: beta^-1, plus for rbf ``jitter * (variance + bias)``."""
    noise = 1.0 / hyper["beta"]
    if kernel == "rbf":
        noise = noise + jitter * (hyper["variance"] + hyper["bias"])
    return noise


def covariance(Z: pt.TensorLike, kernel: str, hyper: Mapping, jitter: float) -> pt.TensorVariable:
    """K = k(Z) + noise I as a PyTensor graph.

    Parameters
    ----------
    Z : tensor, shape (N, Q)
        Latent positions.
    kernel : {"linear", "rbf"}
        Covariance function.
    hyper : mapping
        ``beta`` and, for rbf, ``variance``, ``lengthscale`` (scalar or length Q) and ``bias``;
        tensors or numbers.
    jitter : float
        Relative diagonal jitter for rbf (see the module docstring).
    """
    Z = pt.as_tensor(Z)
    if kernel == "linear":
        k = Z @ Z.T
    elif kernel == "rbf":
        k = rbf(Z, hyper["variance"], hyper["lengthscale"], hyper["bias"])
    else:
        raise ValueError(f"kernel {kernel!r} is unknown; choose linear or rbf")
    return k + noise_variance(kernel, hyper, jitter) * pt.eye(Z.shape[0])


# ---------------------------------------------------------------- NumPy references


def rbf_np(Z: np.ndarray, variance: float, lengthscale, bias: float = 0.0, Z_other=None) -> np.ndarray:
    """NumPy twin of :func:`rbf` (pairwise distances by SciPy), or k(Z, Z_other) when given."""
    ell = np.asarray(lengthscale, dtype=float)
    other = Z if Z_other is None else Z_other
    return variance * np.exp(-0.5 * cdist(Z / ell, other / ell, "sqeuclidean")) + bias


def covariance_np(Z: np.ndarray, kernel: str, hyper: Mapping, jitter: float) -> np.ndarray:
    """NumPy twin of :func:`covariance`; ``hyper`` holds floats and arrays."""
    k = Z @ Z.T if kernel == "linear" else rbf_np(Z, hyper["variance"], hyper["lengthscale"], hyper["bias"])
    return k + noise_variance(kernel, hyper, jitter) * np.eye(len(Z))


def predictive_variance(
    Z_new: np.ndarray, Z: np.ndarray, kernel: str, hyper: Mapping, jitter: float, chunk: int = 2048
) -> np.ndarray:
    """Variance of the latent function f at ``Z_new`` given f at the training latents Z.

    var(z*) = k(z*, z*) - k(z*, Z) K^-1 k(Z, z*): near the data it falls towards the noise level,
    far from it it returns to the prior variance k(z*, z*). It is the same for every output
    dimension, which is what GPy shades behind its latent plots. Rows of ``Z_new`` are processed
    ``chunk`` at a time so that memory stays O(chunk N).
    """
    K = covariance_np(Z, kernel, hyper, jitter)
    L = np.linalg.cholesky(K)
    out = np.empty(len(Z_new))
    for start in range(0, len(Z_new), chunk):
        rows = Z_new[start : start + chunk]
        if kernel == "linear":
            cross, prior = rows @ Z.T, np.sum(rows**2, axis=1)
        else:
            cross = rbf_np(rows, hyper["variance"], hyper["lengthscale"], hyper["bias"], Z_other=Z)
            prior = np.full(len(rows), hyper["variance"] + hyper["bias"])
        A = solve_triangular(L, cross.T, lower=True)
        out[start : start + chunk] = prior - np.sum(A**2, axis=0)
    return np.maximum(out, 0.0)


def rbf_grad_Z(G: np.ndarray, Z: np.ndarray, variance: float, lengthscale) -> np.ndarray:
    """dl/dZ = sum_ab G_ab dk_ab/dZ for the RBF kernel, with G = dl/dK symmetric (eq. 3).

    dk_ab/dz_iq = -k_ab (z_aq - z_bq) / l_q^2 (delta_ai - delta_bi), so
    dl/dz_iq = -(2 / l_q^2) sum_b G_ib k_ib (z_iq - z_bq).
    """
    ell2 = np.broadcast_to(np.asarray(lengthscale, dtype=float) ** 2, (Z.shape[1],))
    W = G * rbf_np(Z, variance, lengthscale)  # the bias does not depend on Z
    return -2.0 * (W.sum(axis=1)[:, None] * Z - W @ Z) / ell2


def rbf_grad_hyper(G: np.ndarray, Z: np.ndarray, variance: float, lengthscale) -> dict[str, np.ndarray]:
    """dl/dvariance, dl/dlengthscale (scalar or per dim) and dl/dbias as G : dk/dtheta."""
    ell = np.asarray(lengthscale, dtype=float)
    k = rbf_np(Z, variance, lengthscale)
    sq_diff = (Z[:, None, :] - Z[None, :, :]) ** 2  # (N, N, Q)
    per_dim = np.einsum("ab,ab,abq->q", G, k, sq_diff) / np.broadcast_to(ell, (Z.shape[1],)) ** 3
    return {
        "variance": np.sum(G * k) / variance,
        "lengthscale": per_dim if ell.ndim else per_dim.sum(),
        "bias": np.sum(G),
    }


def noise_grad_beta(G: np.ndarray, beta: float) -> float:
    """dl/dbeta = G : d(beta^-1 I)/dbeta = -tr(G) / beta^2."""
    return float(-np.trace(G) / beta**2)
