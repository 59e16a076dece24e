"""PyTensor graph helpers: stacks of small matrices, one per column of Y (data with missing
cells), and whether a hyperparameter is a fixed zero."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import slogdet, solve


def is_fixed_zero(value) -> bool:
    """Whether ``value`` is 0 and fixed: a number, a constant, or a ``pm.Data`` (shared variable)
    holding 0. The model's fixed hyperparameters are ``pm.Data`` that nothing sets after the
    model is built, so a term they zero out (a bias of 0, as in the rbf presets) can be left out
    of the graph, with the (N, M) passes it would cost."""
    from pytensor.compile.sharedvalue import SharedVariable

    if isinstance(value, SharedVariable):
        value = value.get_value(borrow=True)
    elif isinstance(value, pt.TensorConstant):
        value = value.data
    return not isinstance(value, pt.Variable) and bool(np.all(np.asarray(value) == 0.0))


def batch_diagonal(A: pt.TensorVariable) -> pt.TensorVariable:
    """The diagonals of a stack of square matrices (..., n, n) -> (..., n).

    By masking rather than ExtractDiag: the gradient of a batched ExtractDiag fills strided
    zeros, 30 ms per call at D = 64, M = 64 on the python backend.
    """
    return pt.sum(A * pt.eye(A.shape[-1]), axis=-1)


def stacked_logdet(A: pt.TensorVariable) -> pt.TensorVariable:
    """sum of log det over a stack of positive definite matrices (D, n, n).

    PyTensor's rewrites may turn it into a stacked Cholesky; for the numba backend that needs
    :mod:`gplvm.inference.numba_support` (registered by the numba compile modes).
    """
    return pt.sum(slogdet(A)[1])


def stacked_quadratic(A: pt.TensorVariable, b: pt.TensorVariable) -> pt.TensorVariable:
    """sum_d b_d^T A_d^-1 b_d over a stack of positive definite A (D, n, n) and b (D, n, 1)."""
    return pt.sum(b * solve(A, b, assume_a="pos"))


def column_outer_sums(Psi1: pt.TensorLike, observed: np.ndarray) -> pt.TensorVariable:
    """sum over each column's observed rows n of psi1_n psi1_n^T, shape (D, M, M).

    Each column gathers the fewer of its two row sets: with few missing cells, the full sum minus
    that of the missing rows (20% missing: a fifth of the work of summing the observed rows).
    Columns are padded to the same number of rows with zero-weight rows.
    """
    Psi1 = pt.as_tensor(Psi1)
    subtract = np.count_nonzero(~observed) < np.count_nonzero(observed)
    chosen = ~observed if subtract else observed
    width = max(int(chosen.sum(axis=0).max()), 1)
    index = np.zeros((chosen.shape[1], width), dtype=np.int64)
    weight = np.zeros((chosen.shape[1], width))
    for d in range(chosen.shape[1]):
        rows = np.flatnonzero(chosen[:, d])
        index[d, : len(rows)], weight[d, : len(rows)] = rows, 1.0
    gathered = Psi1[index] * weight[:, :, None]  # (D, width, M)
    part = gathered.mT @ gathered
    return (Psi1.T @ Psi1)[None, :, :] - part if subtract else part
