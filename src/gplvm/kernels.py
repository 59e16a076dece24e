"""Covariance functions over the latent positions, in PyTensor and as NumPy references.

Groundwork for non-linear GPLVMs (issue 6): the pipeline still fits the linear kernel through
:mod:`gplvm.likelihood`. Here K(Z) = k(Z) + (beta^-1 + jitter) I for

- ``linear``: k = Z Z^T;
- ``rbf``: k_ab = variance * exp(-||(z_a - z_b) / lengthscale||^2 / 2) + bias, with one length
  scale or one per latent dim (ARD).

The NumPy functions give k and its derivatives dk/dZ, dk/dvariance, dk/dlengthscale in closed
form, so that tests can chain eq. 3 through them by the Frobenius product and compare with
PyTensor's gradients.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt


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


def with_noise(k: pt.TensorLike, beta: pt.TensorLike, jitter: float = 0.0) -> pt.TensorVariable:
    """K = k + (beta^-1 + jitter) I."""
    k = pt.as_tensor(k)
    return k + (1.0 / beta + jitter) * pt.eye(k.shape[0])


# ---------------------------------------------------------------- NumPy references


def rbf_np(Z: np.ndarray, variance: float, lengthscale, bias: float = 0.0) -> np.ndarray:
    """NumPy twin of :func:`rbf`, from explicit pairwise differences."""
    diff = (Z[:, None, :] - Z[None, :, :]) / np.asarray(lengthscale, dtype=float)
    return variance * np.exp(-0.5 * np.sum(diff**2, axis=-1)) + bias


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
