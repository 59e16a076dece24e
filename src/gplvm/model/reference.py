"""Independent NumPy references of eqs. 1, 3 and 4, for tests and benchmarks.

They are written separately from the likelihood forms in :mod:`gplvm.model.forms` so that the two
can be compared. Most build the N x N matrix K and are meant for small N.
"""

from __future__ import annotations

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))


def kernel_matrix(Z: np.ndarray, beta: float) -> np.ndarray:
    """K = Z Z^T + beta^-1 I (N x N; small N only)."""
    return Z @ Z.T + np.eye(Z.shape[0]) / beta


def log_likelihood_from_K(K: np.ndarray, Y: np.ndarray) -> float:
    """Eq. 1 plus its constant for any covariance K (N x N), by a Cholesky factorisation."""
    n_obs, n_features = Y.shape
    L = np.linalg.cholesky(K)
    logdet = 2.0 * np.sum(np.log(np.diag(L)))
    A = np.linalg.solve(L, Y)
    return float(-0.5 * n_features * logdet - 0.5 * np.sum(A**2) - 0.5 * n_obs * n_features * LOG_2PI)


def log_likelihood_dense(Z: np.ndarray, Y: np.ndarray, beta: float) -> float:
    """Eq. 1 plus its constant, -ND/2 ln 2 pi, for the linear kernel, with K formed explicitly."""
    return log_likelihood_from_K(kernel_matrix(Z, beta), Y)


def column_log_likelihoods_dense(Z: np.ndarray, Y: np.ndarray, beta: float) -> np.ndarray:
    """log N(y_d | 0, K) for each column, with K formed explicitly; shape (D,)."""
    return np.array([log_likelihood_dense(Z, Y[:, [d]], beta) for d in range(Y.shape[1])])


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
    """Unnormalised log posterior of the linear GPLVM: eq. 1 with its constant plus the prior on Z."""
    return log_likelihood_dense(Z, Y, beta) + log_prior(Z, prior_scale)
