"""Eq. 1 for a given K as one PyTensor Op whose gradient is eq. 3, dl/dK = 1/2 (K^-1 Y Y^T K^-1 - D K^-1).

PyTensor differentiates a Cholesky-based graph through the Cholesky factor: four N x N
triangular solves and five N x N products per gradient (173 ms at N = 1,000). Eq. 3 needs one
Cholesky factor, alpha = K^-1 Y and K^-1 from the factor (LAPACK's potri): about N^3 flops in
all. The forward pass keeps the factor and alpha for the gradient. The tests compare value and
gradient with the Cholesky graph and with finite differences.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from scipy import linalg as sla

from gplvm.model.constants import LOG_2PI


def _value_and_parts(K: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(eq. 1, lower Cholesky factor of K, alpha = K^-1 Y); NaN for a K that does not factorise."""
    try:
        L = sla.cholesky(K, lower=True, check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        return float("nan"), np.full_like(K, np.nan), np.full_like(Y, np.nan)
    alpha = sla.cho_solve((L, True), Y, check_finite=False)
    n_obs, n_features = Y.shape
    value = (
        -n_features * np.sum(np.log(np.diag(L)))
        - 0.5 * np.sum(Y * alpha)
        - 0.5 * n_obs * n_features * LOG_2PI
    )
    return float(value), L, alpha


def _dK(L: np.ndarray, alpha: np.ndarray, n_features: int) -> np.ndarray:
    """Eq. 3 from the factor and alpha: 1/2 (alpha alpha^T - D K^-1)."""
    inverse, info = sla.lapack.dpotri(L, lower=1)
    if info != 0:
        return np.full_like(L, np.nan)
    inverse = np.tril(inverse) + np.tril(inverse, -1).T  # potri fills one triangle
    return 0.5 * (alpha @ alpha.T - n_features * inverse)


class GaussianColumnsGrad(Op):
    """dl/dK of :class:`GaussianColumns` times the incoming gradient, from its kept factor and alpha."""

    __props__ = ()

    def make_node(self, L, alpha, g):
        L, alpha, g = (pt.as_tensor(x).astype("float64") for x in (L, alpha, g))
        return Apply(self, [L, alpha, g], [pt.matrix(dtype="float64")])

    def perform(self, node, inputs, outputs):
        L, alpha, g = inputs
        outputs[0][0] = float(g) * _dK(L, alpha, alpha.shape[1])


class GaussianColumns(Op):
    """sum over the columns y_d of Y of log N(y_d | 0, K) (eq. 1 with its constant), for K (N x N).

    Outputs the value and, for the gradient, the Cholesky factor and alpha = K^-1 Y.
    """

    __props__ = ()

    def make_node(self, K, Y):
        K, Y = pt.as_tensor(K).astype("float64"), pt.as_tensor(Y).astype("float64")
        return Apply(
            self, [K, Y], [pt.scalar(dtype="float64"), pt.matrix(dtype="float64"), pt.matrix(dtype="float64")]
        )

    def perform(self, node, inputs, outputs):
        value, L, alpha = _value_and_parts(*inputs)
        outputs[0][0] = np.asarray(value)
        outputs[1][0] = L
        outputs[2][0] = alpha

    def pullback(self, inputs, outputs, cotangents):
        _, L, alpha = outputs
        grad_K = GaussianColumnsGrad()(L, alpha, cotangents[0])
        # Y enters as data here: its gradient, -alpha, is never needed but kept exact.
        return [grad_K, -alpha * cotangents[0]]


def gaussian_columns_log_density(K, Y) -> pt.TensorVariable:
    """Eq. 1 for the covariance K (see :class:`GaussianColumns`)."""
    return GaussianColumns()(K, Y)[0]


def register_numba() -> None:
    """Let PyTensor's numba backend (NUTS) call this Op, which it cannot compile on its own.

    Called by :func:`gplvm.inference.numba_support.register_numba_ops`: numba takes 1.3 s to
    import, which a MAP on the python backend should not pay.
    """
    import numba
    from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

    @numba.njit
    def value(K, Y):  # pragma: no cover (compiled)
        n_obs, n_features = Y.shape
        L = np.linalg.cholesky(K)
        alpha = np.linalg.solve(K, Y)
        total = -n_features * np.sum(np.log(np.diag(L))) - 0.5 * np.sum(Y * alpha)
        return np.asarray(total - 0.5 * n_obs * n_features * LOG_2PI), L, alpha

    @numba.njit
    def grad(L, alpha, g):  # pragma: no cover (compiled)
        L_inv = np.linalg.inv(L)
        return g * 0.5 * (alpha @ alpha.T - alpha.shape[1] * (L_inv.T @ L_inv))

    register_funcify_default_op_cache_key(GaussianColumns)(lambda op, node=None, **kwargs: value)
    register_funcify_default_op_cache_key(GaussianColumnsGrad)(lambda op, node=None, **kwargs: grad)
