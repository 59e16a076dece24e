"""Orthogonal Procrustes alignment: the posterior is invariant under Z -> Z R, so compare up to R."""

from __future__ import annotations

import numpy as np
from scipy.linalg import orthogonal_procrustes


def align_to(Z: np.ndarray, Z_ref: np.ndarray) -> np.ndarray:
    """Return Z R, with R the orthogonal Q x Q matrix that brings Z closest to Z_ref (Frobenius).

    The directions of Z_ref matter, not its scale: R comes from the SVD of Z^T Z_ref.
    """
    R, _ = orthogonal_procrustes(Z, Z_ref)
    return Z @ R
