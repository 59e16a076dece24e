"""The woodbury form, for the linear kernel: eq. 1 in O(N Q^2 + N Q D) without an N x N matrix.

With M = I_Q + beta Z^T Z it never forms K, so it scales to N = 10^5 and beyond. Missing cells
batch over the columns: a Q x Q factorisation per column.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky, solve_triangular
from scipy import linalg as sla

from gplvm.model.constants import LOG_2PI
from gplvm.model.forms.base import LikelihoodForm
from gplvm.model.graph_ops import stacked_logdet, stacked_quadratic
from gplvm.model.kernels import Kernel
from gplvm.model.kernels.linear import Linear
from gplvm.model.predictive import PredictiveFactors


def woodbury_log_likelihood(
    Z: pt.TensorLike, Y: pt.TensorLike, beta: pt.TensorLike, Y_sq_norm: pt.TensorLike | None = None
) -> pt.TensorVariable:
    """Eq. 1 with its constant for K = Z Z^T + beta^-1 I, via the Woodbury identity.

    With M = I_Q + beta Z^T Z = L L^T: ln|K| = -N ln beta + ln|M| and
    tr(K^-1 Y Y^T) = beta ||Y||_F^2 - beta^2 ||L^-1 Z^T Y||_F^2.

    Parameters
    ----------
    Z : tensor, shape (N, Q)
        Latent positions.
    Y : tensor, shape (N, D)
        Centred data.
    beta : scalar tensor
        Noise precision, > 0.
    Y_sq_norm : scalar tensor, optional
        ||Y||_F^2. Pass it when Y is a shared variable: PyTensor cannot fold sum(Y**2) into a
        constant then, and would recompute it, an O(N D) pass, at every evaluation.
    """
    Z, Y, beta = pt.as_tensor(Z), pt.as_tensor(Y), pt.as_tensor(beta)
    n_obs, n_features = Y.shape[0], Y.shape[1]
    M = pt.eye(Z.shape[1]) + beta * (Z.T @ Z)
    L = cholesky(M, lower=True)
    logdet_K = -n_obs * pt.log(beta) + 2.0 * pt.sum(pt.log(pt.diagonal(L)))
    A = solve_triangular(L, Z.T @ Y, lower=True)
    Y_sq_norm = pt.sum(Y**2) if Y_sq_norm is None else pt.as_tensor(Y_sq_norm)
    trace = beta * Y_sq_norm - beta**2 * pt.sum(A**2)
    return -0.5 * n_features * logdet_K - 0.5 * trace - 0.5 * n_obs * n_features * LOG_2PI


def masked_woodbury_log_likelihood(
    Z: pt.TensorLike, Y: pt.TensorLike, beta: pt.TensorLike, observed: np.ndarray
) -> pt.TensorVariable:
    """Eq. 1 of the observed cells only, for K = Z Z^T + beta^-1 I: O(N Q^2 D), nothing N x N.

    Column d with observed rows O_d has M_d = I_Q + beta Z^T diag(m_d) Z (m_d its 0/1 mask) and
    the woodbury formulas of :func:`woodbury_log_likelihood` with the sums over O_d; Z^T y_d
    needs no mask once the missing cells are zero.

    Parameters
    ----------
    Y : tensor, shape (N, D)
        Centred data; its missing cells may hold anything (NaN): they are replaced by zero.
    observed : ndarray of bool, shape (N, D)
        Which cells are observed.
    """
    Z, beta = pt.as_tensor(Z), pt.as_tensor(beta)
    mask = pt.as_tensor(observed.astype(float))
    Y0 = pt.switch(pt.as_tensor(observed), Y, 0.0)
    n_cells = int(observed.sum())
    n_rows, latent_dim = Z.shape[0], Z.shape[1]
    outer = (Z[:, :, None] * Z[:, None, :]).reshape((n_rows, latent_dim * latent_dim))
    M = pt.eye(latent_dim) + beta * (mask.T @ outer).reshape((mask.shape[1], latent_dim, latent_dim))
    logdet = -n_cells * pt.log(beta) + stacked_logdet(M)
    b = (Z.T @ Y0).T[:, :, None]  # (D, Q, 1)
    trace = beta * pt.sum(Y0**2) - beta**2 * stacked_quadratic(M, b)
    return -0.5 * logdet - 0.5 * trace - 0.5 * n_cells * LOG_2PI


class Woodbury(LikelihoodForm):
    """O(N Q^2 + N Q D) for the linear kernel: nothing N x N is formed."""

    name = "woodbury"

    @classmethod
    def supports(cls, kernel: Kernel) -> bool:
        return isinstance(kernel, Linear)

    def log_likelihood(self, Z, Y, hyper, Y_sq_norm=None):
        return woodbury_log_likelihood(Z, Y, hyper["beta"], Y_sq_norm)

    def missing_log_likelihood(self, Z, Y, hyper, observed):
        return masked_woodbury_log_likelihood(Z, Y, hyper["beta"], observed)

    def complete_factors(self, Z, Y, hyper):
        """O(N Q^2 + N Q D) once: with P = Z^T Z + I / beta, the mean is z* P^-1 Z^T Y and the
        variance of f is z*^T P^-1 z* / beta (push-through identity). For k(z*, X) to be z* the
        points are the latent axes, X = I_Q."""
        noise = 1.0 / float(hyper["beta"])
        latent_dim = Z.shape[1]
        P_inv = np.linalg.inv(Z.T @ Z + noise * np.eye(latent_dim))
        plus = np.linalg.cholesky(noise * P_inv)
        return PredictiveFactors(np.eye(latent_dim), P_inv @ (Z.T @ Y), None, plus, noise)

    def complete_column_log_likelihoods(self, Z, Y, hyper, where="at the fitted point"):
        beta = float(hyper["beta"])
        n_obs = Y.shape[0]
        L = np.linalg.cholesky(np.eye(Z.shape[1]) + beta * (Z.T @ Z))
        logdet = -n_obs * np.log(beta) + 2.0 * np.sum(np.log(np.diag(L)))
        A = sla.solve_triangular(L, Z.T @ Y, lower=True)
        quad = beta * np.einsum("nd,nd->d", Y, Y) - beta**2 * np.sum(A**2, axis=0)  # no N x D temporary
        return -0.5 * logdet - 0.5 * quad - 0.5 * n_obs * LOG_2PI
