"""Baselines to compare a GPLVM fit with."""

from __future__ import annotations

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA


def pca_scores(Y: np.ndarray, latent_dim: int) -> np.ndarray:
    """Principal-component scores Y V_Q (N x Q) from scikit-learn's PCA.

    For the linear kernel the GPLVM optimum spans the same subspace: Z* = U_Q diag(l_i) while the
    scores are U_Q diag(sigma_i), so each axis differs only by the factor l_i / sigma_i.
    """
    return PCA(n_components=latent_dim, svd_solver="full").fit_transform(Y)


def subspace_angles_deg(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Principal angles, in degrees, between the column spaces of A and B (both N x Q).

    SciPy's sine-based algorithm stays accurate for nearly equal subspaces, where arccos of the
    cosines loses half the digits.
    """
    return np.degrees(subspace_angles(A, B))
