"""NumPy references for the linear-kernel GPLVM: eqs. 1, 3 and 4 and the analytic optimum.

These are written independently of the PyTensor graphs in :mod:`gplvm.likelihood` so that tests
can compare one against the other. The dense helpers build the N x N matrix K and are meant for
small N; everything else costs O(N Q^2 + N Q D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))


def kernel_matrix(Z: np.ndarray, beta: float) -> np.ndarray:
    """Return K = Z Z^T + beta^-1 I (N x N; small N only)."""
    return Z @ Z.T + np.eye(Z.shape[0]) / beta


def log_likelihood_from_K(K: np.ndarray, Y: np.ndarray) -> float:
    """Eq. 1 plus its constant for any covariance K (N x N), by a Cholesky factorisation."""
    n_obs, n_features = Y.shape
    L = np.linalg.cholesky(K)
    logdet = 2.0 * np.sum(np.log(np.diag(L)))
    A = np.linalg.solve(L, Y)
    return float(-0.5 * n_features * logdet - 0.5 * np.sum(A**2) - 0.5 * n_obs * n_features * LOG_2PI)


def log_likelihood_dense(Z: np.ndarray, Y: np.ndarray, beta: float) -> float:
    """Eq. 1 plus its constant, -ND/2 ln 2 pi, by a dense Cholesky factorisation of K."""
    return log_likelihood_from_K(kernel_matrix(Z, beta), Y)


def column_log_likelihoods(Z: np.ndarray, Y: np.ndarray, beta: float) -> np.ndarray:
    """Log density of each column of Y under N(0, K), by the Woodbury identity; shape (D,).

    The columns are independent given Z, so eq. 1 is their sum. With M = I_Q + beta Z^T Z = L L^T:
    ln|K| = -N ln beta + ln|M| and y^T K^-1 y = beta ||y||^2 - beta^2 ||L^-1 Z^T y||^2.
    Costs O(N Q^2 + N Q D).
    """
    n_obs = Y.shape[0]
    M = np.eye(Z.shape[1]) + beta * (Z.T @ Z)
    L = np.linalg.cholesky(M)
    logdet = -n_obs * np.log(beta) + 2.0 * np.sum(np.log(np.diag(L)))
    A = np.linalg.solve(L, Z.T @ Y)
    quad = beta * np.sum(Y**2, axis=0) - beta**2 * np.sum(A**2, axis=0)
    return -0.5 * logdet - 0.5 * quad - 0.5 * n_obs * LOG_2PI


def log_likelihood(Z: np.ndarray, Y: np.ndarray, beta: float) -> float:
    """Eq. 1 plus its constant through the Woodbury identity in O(N Q^2 + N Q D)."""
    return float(np.sum(column_log_likelihoods(Z, Y, beta)))


def dl_dK(K: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Eq. 3 with its 1/2 for any covariance K: dl/dK = 1/2 (K^-1 Y Y^T K^-1 - D K^-1)."""
    K_inv = np.linalg.inv(K)
    KiY = K_inv @ Y
    return 0.5 * (KiY @ KiY.T - Y.shape[1] * K_inv)


def grad_K(Z: np.ndarray, Y: np.ndarray, beta: float) -> np.ndarray:
    """Eq. 3 for the linear kernel K = Z Z^T + beta^-1 I."""
    return dl_dK(kernel_matrix(Z, beta), Y)


def grad_Z_dense(Z: np.ndarray, Y: np.ndarray, beta: float) -> np.ndarray:
    """Eq. 4 as printed: dl/dZ = K^-1 Y Y^T K^-1 Z - D K^-1 Z, with K formed explicitly."""
    K_inv = np.linalg.inv(kernel_matrix(Z, beta))
    KiY = K_inv @ Y
    return KiY @ (KiY.T @ Z) - Y.shape[1] * (K_inv @ Z)


def chain_through_K(dl_dK: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Chain a matrix dl/dK through dK = Z dZ^T + dZ Z^T by the Frobenius product.

    dl = G : dK = (G + G^T) Z : dZ, so the gradient is (G + G^T) Z; for a symmetric G it is 2 G Z.
    """
    return (dl_dK + dl_dK.T) @ Z


def grad_Z(Z: np.ndarray, Y: np.ndarray, beta: float) -> np.ndarray:
    """Eq. 4 through the Woodbury identity, never forming an N x N matrix.

    K^-1 X = beta X - beta^2 Z M^-1 Z^T X, so K^-1 Z = beta Z M^-1 and
    K^-1 Y Y^T K^-1 Z = (K^-1 Y) ((K^-1 Y)^T Z).
    """
    Q = Z.shape[1]
    M = np.eye(Q) + beta * (Z.T @ Z)
    M_inv_ZtY = np.linalg.solve(M, Z.T @ Y)
    KiY = beta * Y - beta**2 * (Z @ M_inv_ZtY)
    KiZ = beta * np.linalg.solve(M, Z.T).T
    return KiY @ (KiY.T @ Z) - Y.shape[1] * KiZ


def log_prior(Z: np.ndarray, prior_scale: float) -> float:
    """Log density of Z under independent Normal(0, prior_scale) entries."""
    return float(-0.5 * np.sum((Z / prior_scale) ** 2) - Z.size * (np.log(prior_scale) + 0.5 * LOG_2PI))


def log_posterior(Z: np.ndarray, Y: np.ndarray, beta: float, prior_scale: float) -> float:
    """Unnormalised log posterior: eq. 1 with its constant plus the Normal prior on Z."""
    return log_likelihood(Z, Y, beta) + log_prior(Z, prior_scale)


@dataclass(frozen=True)
class AnalyticOptimum:
    """The maximiser of the log posterior (or likelihood), unique up to Z -> Z R."""

    Z: np.ndarray
    eigenvalues: np.ndarray  # lambda_i of S = Y Y^T / D, top Q, descending
    kernel_eigenvalues: np.ndarray  # k_i, the eigenvalues of K along u_i at the optimum


def analytic_optimum(
    Y: np.ndarray, latent_dim: int, beta: float, prior_scale: float | None = None
) -> AnalyticOptimum:
    """Analytic maximiser (Lawrence 2005; GUIDE section 1), with or without the prior on Z.

    Z = U_Q diag(l_i), l_i^2 = max(k_i - 1/beta, 0). Without a prior k_i = lambda_i; with
    Z ~ N(0, s^2 I), k_i solves k^2 + D s^2 k - D s^2 lambda_i = 0. The eigenpairs of
    S = Y Y^T / D come from a thin SVD of Y, so nothing N x N is formed.
    """
    n_features = Y.shape[1]
    U, sing, _ = np.linalg.svd(Y, full_matrices=False)
    lam = np.zeros(latent_dim)
    top = min(latent_dim, sing.size)
    lam[:top] = sing[:top] ** 2 / n_features
    U_Q = np.zeros((Y.shape[0], latent_dim))
    U_Q[:, :top] = U[:, :top]
    if prior_scale is None:
        k = lam
    else:
        ds2 = n_features * prior_scale**2
        # Rationalised root of k^2 + ds2 k - ds2 lam = 0, stable when lam << ds2.
        k = 2.0 * ds2 * lam / (ds2 + np.sqrt(ds2**2 + 4.0 * ds2 * lam))
    scales = np.sqrt(np.maximum(k - 1.0 / beta, 0.0))
    return AnalyticOptimum(Z=U_Q * scales, eigenvalues=lam, kernel_eigenvalues=k)


def gram_relative_error(Z: np.ndarray, Z_ref: np.ndarray) -> float:
    """||Z Z^T - Z_ref Z_ref^T||_F / ||Z_ref Z_ref^T||_F without forming an N x N matrix.

    Both Gram matrices equal C J C^T with C = [Z, Z_ref] and J = diag(I, -I); after C = Q_c R_c,
    the difference norm is ||R_c J R_c^T||_F, which a QR factorisation computes stably.
    """
    q = Z.shape[1]
    R = np.linalg.qr(np.hstack([Z, Z_ref]), mode="r")
    J = np.concatenate([np.ones(q), -np.ones(Z_ref.shape[1])])
    diff = np.linalg.norm((R * J) @ R.T)
    R_ref = np.linalg.qr(Z_ref, mode="r")
    ref = np.linalg.norm(R_ref @ R_ref.T)
    return float(diff / ref) if ref > 0 else float(diff)
