"""Orthogonal Procrustes alignment of latent draws.

The GPLVM posterior is invariant under Z -> Z R for every orthogonal R, so draws from different
chains (or from one chain over time) sit at different rotations. Aligning every draw to one
reference removes that freedom before Z is summarised or diagnosed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def procrustes_rotations(Z: np.ndarray, Z_ref: np.ndarray) -> np.ndarray:
    """Orthogonal R minimising ||Z R - Z_ref||_F, for one Z (N x Q) or a stack (..., N, Q).

    R = U V^T from the SVD U S V^T of Z^T Z_ref, a Q x Q matrix, so the cost is O(N Q^2) per draw.
    Reflections are allowed: they are orthogonal and leave the posterior unchanged too.
    """
    M = np.einsum("...nq,nr->...qr", Z, Z_ref)
    U, _, Vt = np.linalg.svd(M)
    return U @ Vt


def align_to(Z: np.ndarray, Z_ref: np.ndarray) -> np.ndarray:
    """Return Z R, with R the orthogonal matrix that brings Z (or each of a stack) closest to Z_ref."""
    return Z @ procrustes_rotations(Z, Z_ref)


@dataclass(frozen=True)
class Alignment:
    """Draws aligned to a common reference.

    Attributes
    ----------
    aligned : ndarray, shape (chain, draw, N, Q)
        Every draw times its own Procrustes rotation.
    reference : ndarray, shape (N, Q)
        What the draws were aligned to: the start reference, or the generalised-Procrustes mean.
    residual : ndarray, shape (chain, draw)
        ||Z_s R_s - reference||_F / ||reference||_F per draw.
    iterations : int
        Generalised-Procrustes iterations (0 when aligning to the start reference only).
    """

    aligned: np.ndarray
    reference: np.ndarray
    residual: np.ndarray
    iterations: int


def align_draws(
    Z_draws: np.ndarray, Z_ref: np.ndarray, generalized: bool = True, max_iter: int = 50, tol: float = 1e-9
) -> Alignment:
    """Align every draw in ``Z_draws`` (chain, draw, N, Q) to ``Z_ref`` (N, Q).

    With ``generalized`` (generalised Procrustes analysis), the reference is then replaced by the
    mean of the aligned draws and the alignment repeated until the mean moves by less than ``tol``
    relative. The mean of the posterior is a steadier target than any single point such as the MAP,
    which sits away from the typical set.
    """
    # One buffer for the aligned draws and no stack-sized temporaries: at 10^5 rows and 100
    # draws each copy of the stack is 150 MB.
    reference = np.asarray(Z_ref, dtype=float)
    aligned = align_to(Z_draws, reference)
    iterations = 0
    while generalized and iterations < max_iter:
        mean = aligned.mean(axis=(0, 1))
        change = np.linalg.norm(mean - reference) / max(np.linalg.norm(mean), 1e-300)
        reference = mean
        np.matmul(Z_draws, procrustes_rotations(Z_draws, reference), out=aligned)
        iterations += 1
        if change < tol:
            break
    norm = max(np.linalg.norm(reference), 1e-300)
    residual = np.zeros(aligned.shape[:-2])
    for index in np.ndindex(residual.shape):
        residual[index] = np.linalg.norm(aligned[index] - reference) / norm
    return Alignment(aligned=aligned, reference=reference, residual=residual, iterations=iterations)
