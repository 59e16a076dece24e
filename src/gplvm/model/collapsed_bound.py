"""Titsias's collapsed variational lower bound on eq. 1, from the psi statistics.

Shared by the sparse form (psi statistics at a point Z) and the Bayesian GPLVM (their
expectations under q(Z)).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky, solve_triangular

from gplvm.model.bound_ops import collapsed_bound_op, point_bound_op
from gplvm.model.constants import LOG_2PI
from gplvm.model.graph_ops import batch_diagonal, stacked_logdet, stacked_quadratic


def collapsed_bound(
    psi0: pt.TensorLike,
    Psi1: pt.TensorLike,
    Psi2: pt.TensorLike,
    Kuu: pt.TensorLike,
    Y: pt.TensorLike,
    noise: pt.TensorLike,
    Y_sq_norm: pt.TensorLike | None = None,
) -> pt.TensorVariable:
    """Titsias's collapsed lower bound on eq. 1 from the psi statistics, summed over the columns.

    With L L^T = K_uu, A A^T = L^-1 Psi2 L^-T / noise, L_B L_B^T = I + A A^T and
    c = L_B^-1 L^-1 Psi1^T Y / noise::

        F = -N D / 2 ln(2 pi noise) - D sum ln diag L_B - ||Y||^2 / (2 noise) + ||c||^2 / 2
            - D / 2 (psi0 / noise - tr(A A^T))

    The data enter through Psi1^T Y alone; the rest, shared by all D columns, is one Op with a
    closed-form gradient (:mod:`gplvm.model.bound_ops`): O(N M D) here, O(M^3 + M^2 D) there.
    """
    Psi1, Y = pt.as_tensor(Psi1), pt.as_tensor(Y)
    Y_sq_norm = pt.sum(Y**2) if Y_sq_norm is None else pt.as_tensor(Y_sq_norm)
    return collapsed_bound_op(psi0, Psi1.T @ Y, Psi2, Kuu, noise, Y_sq_norm, Y.shape[0], Y.shape[1])


def point_collapsed_bound(
    psi0: pt.TensorLike,
    Psi1: pt.TensorLike,
    Kuu: pt.TensorLike,
    Y: pt.TensorLike,
    noise: pt.TensorLike,
    Y_sq_norm: pt.TensorLike | None = None,
) -> pt.TensorVariable:
    """:func:`collapsed_bound` with the statistics of a point Z: Psi2 = Psi1^T Psi1 (the sparse form)."""
    Y = pt.as_tensor(Y)
    Y_sq_norm = pt.sum(Y**2) if Y_sq_norm is None else pt.as_tensor(Y_sq_norm)
    return point_bound_op(psi0, Psi1, Y, Kuu, noise, Y_sq_norm)


def collapsed_bound_by_column(
    psi0: pt.TensorLike,
    Psi1: pt.TensorLike,
    Psi2: pt.TensorLike,
    Kuu: pt.TensorLike,
    Y: pt.TensorLike,
    noise: pt.TensorLike,
    observed: np.ndarray,
) -> pt.TensorVariable:
    """:func:`collapsed_bound` of the observed cells: each column's bound from its observed rows.

    ``psi0`` (D,) and ``Psi2`` (D, M, M) are summed over each column's observed rows; ``Psi1``
    (N, M) is shared. Missing cells of ``Y`` (any value) count as zero. O(N M D + D M^3).
    """
    Psi1, Psi2 = pt.as_tensor(Psi1), pt.as_tensor(Psi2)
    Y0 = pt.switch(pt.as_tensor(observed), Y, 0.0)
    n_cells = int(observed.sum())
    L = cholesky(Kuu, lower=True)
    n_cols, m = Psi2.shape[0], Psi2.shape[1]

    def left_solve(stack):  # L^-1 S_d for every d, as one 2-D triangular solve on (M, D M)
        flat = stack.transpose(1, 0, 2).reshape((m, n_cols * m))
        return solve_triangular(L, flat, lower=True).reshape((m, n_cols, m)).transpose(1, 0, 2)

    AAT = left_solve(left_solve(Psi2).mT) / noise  # L^-1 Psi2_d L^-T / noise
    B = pt.eye(m) + AAT
    projected = solve_triangular(L, Psi1.T @ Y0, lower=True).T[:, :, None]  # (D, M, 1)
    trace_AAT = pt.sum(batch_diagonal(AAT))
    return (
        -0.5 * n_cells * (LOG_2PI + pt.log(noise))
        - 0.5 * stacked_logdet(B)
        - 0.5 * pt.sum(Y0**2) / noise
        + 0.5 * stacked_quadratic(B, projected) / noise**2
        - 0.5 * (pt.sum(psi0) / noise - trace_AAT)
    )
