"""Baselines to compare a GPLVM fit with."""

from __future__ import annotations

import numpy as np
from scipy.linalg import subspace_angles


def pca_scores(Y: np.ndarray, latent_dim: int, centred: bool = False) -> np.ndarray:
    """Principal-component scores Y V_Q = U_Q diag(sigma_i) (N x Q) of the centred Y.

    Each axis is determined up to its sign. Pass ``centred=True`` for data that already is (a
    :class:`~gplvm.data.Dataset`'s Y), which saves a copy of Y.

    For the linear kernel the GPLVM optimum spans the same subspace: Z* = U_Q diag(l_i) while the
    scores are U_Q diag(sigma_i), so each axis differs only by the factor l_i / sigma_i.
    """
    from gplvm.analytic import top_singular

    U, sing = top_singular(Y if centred else Y - Y.mean(axis=0), latent_dim)
    return U * sing


def subspace_angles_deg(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Principal angles, in degrees, between the column spaces of A and B (both N x Q).

    SciPy's sine-based algorithm stays accurate for nearly equal subspaces, where arccos of the
    cosines loses half the digits.
    """
    return np.degrees(subspace_angles(A, B))
