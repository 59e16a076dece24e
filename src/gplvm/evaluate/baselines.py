"""Baselines to compare a GPLVM fit with."""

from __future__ import annotations

import numpy as np
from scipy.linalg import subspace_angles

from gplvm.model.analytic import top_singular


def pca_scores(Y: np.ndarray, latent_dim: int, centred: bool = False) -> np.ndarray:
    """Principal-component scores Y V_Q = U_Q diag(sigma_i) (N x Q) of the centred Y.

    Each axis is determined up to its sign. Pass ``centred=True`` for data that already is (a
    :class:`~gplvm.data.Dataset`'s Y), which saves a copy of Y.

    For the linear kernel the GPLVM optimum spans the same subspace: Z* = U_Q diag(l_i) while the
    scores are U_Q diag(sigma_i), so each axis differs only by the factor l_i / sigma_i.
    """
    U, sing = top_singular(Y if centred else Y - Y.mean(axis=0), latent_dim)
    return U * sing


def subspace_angles_deg(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Principal angles, in degrees, between the column spaces of A and B (both N x Q).

    SciPy's sine-based algorithm stays accurate for nearly equal subspaces, where arccos of the
    cosines loses half the digits.
    """
    return np.degrees(subspace_angles(A, B))


def svd_impute(Y: np.ndarray, rank: int, max_iter: int = 500, tol: float = 1e-7) -> np.ndarray:
    """PCA imputation by iterative truncated SVD (hard impute): ``Y`` with its NaN cells filled.

    Missing cells start at their column's mean; then, until they change by less than ``tol``
    (relative), the column means are re-estimated, the centred table is replaced by its best
    rank-``rank`` approximation, and the missing cells take its values. The observed cells
    never change.
    """
    missing = np.isnan(Y)
    filled = np.where(missing, np.nanmean(Y, axis=0), Y)
    for _ in range(max_iter):
        mean = filled.mean(axis=0)
        U, s, Vt = np.linalg.svd(filled - mean, full_matrices=False)
        low_rank = (U[:, :rank] * s[:rank]) @ Vt[:rank] + mean
        change = np.linalg.norm(low_rank[missing] - filled[missing])
        filled[missing] = low_rank[missing]
        if change <= tol * max(np.linalg.norm(filled[missing]), 1e-300):
            break
    return filled
