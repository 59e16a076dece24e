"""The one O(N M^2 Q) term of the rbf Psi2 statistic as a PyTensor Op with compiled loops.

T[m, m'] = sum_n exp(a[n, m] + a[n, m'] - 1/2 sum_q w[n, q] u[m, q] u[m', q] + b[m, m'])

Each term is one exponential of its whole exponent, the log of a Psi2 term (at most twice the
log of the kernel variance, which a carries): as a product of factors, inducing inputs far from
the data gave 0 x inf = NaN where the term is tiny.
Written as PyTensor elementwise graphs, T and its gradient pass about ten times over (N, M^2)
temporaries (60 MB each on digits); here a loop over n keeps one row's terms in cache, forward
and backward, several times faster. T and its terms are symmetric, so only the upper triangle is
computed, kept and read (packed row by row), and the exponentials go through a polynomial exp
that LLVM vectorises. The tests compare both directions with the plain PyTensor expression and
with finite differences.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

# Reassociating sums lets LLVM vectorise the inner products; every exponent is at most about 0.
_SUMS = {"reassoc", "contract", "nsz"}


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two: k ln 2 exact in the first part
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN = -708.0  # below it exp(x) < 3.3e-308 is returned as 0 (2^k would be subnormal)
_EXP_MAX = 709.0  # above it exp(x) is returned as inf (2^k would overflow its exponent bits)


@numba.njit(cache=True, fastmath={"contract"})
def _exp_into(x, out, k_buf) -> None:  # pragma: no cover (compiled)
    """out = exp(x), in loops that LLVM vectorises (numba's exp is one scalar call per
    element, four times slower here): exp(x) = 2^k exp(r), k = round(x / ln 2), |r| <= ln 2 / 2,
    exp(r) by its Taylor polynomial to degree 13 (truncation below 1e-17), 2^k built from its
    bits. Within 3e-16 relative of NumPy's exp for -708 <= x <= 709 (tested); 0 below, inf above."""
    n = x.shape[0]
    for i in range(n):
        k_buf[i] = np.int64(np.floor(x[i] * _LOG2E + 0.5))
    for i in range(n):
        k = np.float64(k_buf[i])
        r = (x[i] - k * _LN2_HI) - k * _LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        out[i] = p * r + 1.0
    for i in range(n):
        k_buf[i] = (min(max(k_buf[i], -1022), 1023) + 1023) << 52
    scale = k_buf.view(np.float64)
    for i in range(n):
        out[i] = out[i] * scale[i] if x[i] >= _EXP_MIN else 0.0
        if x[i] > _EXP_MAX:
            out[i] = np.inf


@numba.njit(cache=True, fastmath=_SUMS)
def _packed_terms(a_n, w_n, U_T, b, work, k_buf, values) -> None:  # pragma: no cover (compiled)
    """values = exp(a_n[k] + a_n[j] - 1/2 sum_q w_n[q] U[k, q] U[j, q] + b[k, j]) over the upper
    triangle j >= k, packed row by row (M (M + 1) / 2 values) for a symmetric b: the exponents by
    loops over j (contiguous, so vectorised), then their exps in one vectorised pass; ``work``
    holds the exponents, ``k_buf`` is scratch."""
    latent_dim, n_inducing = U_T.shape
    index = 0
    for k in range(n_inducing):
        width = n_inducing - k
        row = work[index : index + width]
        for j in range(width):
            row[j] = a_n[k] + a_n[k + j] + b[k, k + j]
        for q in range(latent_dim):
            weight = -0.5 * w_n[q] * U_T[q, k]
            for j in range(width):
                row[j] += weight * U_T[q, k + j]
        index += width
    _exp_into(work[:index], values, k_buf)


@numba.njit(cache=True)
def _unpack(values, c) -> None:  # pragma: no cover (compiled)
    """The symmetric M x M block ``c`` from its packed upper triangle."""
    n_inducing = c.shape[0]
    index = 0
    for k in range(n_inducing):
        for j in range(k, n_inducing):
            c[k, j] = values[index]
            c[j, k] = values[index]
            index += 1


# Below this many (n, m, m') terms one thread does the work: waking the others costs more.
PARALLEL_MIN_TERMS = 2_000_000
# Larger sums split into this many blocks of rows, whatever the thread count, so that the result
# (summed block by block) does not depend on the thread count, and the blocks share out evenly over
# 1, 2, 4, 8 or 16 threads (measured: as fast as one block per thread on 2 cores).
PARALLEL_CHUNKS = 16


@numba.njit(cache=True)
def _chunks(n_obs: int, n_inducing: int) -> np.ndarray:  # pragma: no cover (compiled)
    """Boundaries of contiguous blocks of rows: one block for small sums, else PARALLEL_CHUNKS."""
    n_chunks = 1 if n_obs * n_inducing**2 < 2 * PARALLEL_MIN_TERMS else min(n_obs, PARALLEL_CHUNKS)
    return np.array([i * n_obs // n_chunks for i in range(n_chunks + 1)])


@numba.njit(cache=True, parallel=True, fastmath=_SUMS)
def _coupling_sum(a, w, U, b, bounds, blocks):  # pragma: no cover (compiled)
    """T, and each row's packed terms in ``blocks`` (N, M (M + 1) / 2) when it has rows (else the
    gradient recomputes them)."""
    n_inducing = a.shape[1]
    size = n_inducing * (n_inducing + 1) // 2
    b = 0.5 * (b + b.T)
    U_T = np.ascontiguousarray(U.T)
    keep = blocks.shape[0] > 0
    partial = np.zeros((len(bounds) - 1, size))
    for chunk in numba.prange(len(bounds) - 1):
        work, values = np.empty(size), np.empty(size)
        k_buf = np.empty(size, dtype=np.int64)
        for n in range(bounds[chunk], bounds[chunk + 1]):
            row = blocks[n] if keep else values
            _packed_terms(a[n], w[n], U_T, b, work, k_buf, row)
            for i in range(size):
                partial[chunk, i] += row[i]
    total = np.empty((n_inducing, n_inducing))
    _unpack(partial.sum(axis=0), total)
    return total


@numba.njit(cache=True, parallel=True, fastmath=_SUMS)
def _coupling_sum_grad(a, w, U, b, G, bounds, blocks):  # pragma: no cover (compiled)
    """Gradients with respect to a, w and U, each row's terms unpacked into an M x M block that
    stays in cache: with H = (G + G^T) / 2, dL/da_nk = 2 sum_j H_kj c_nkj, dL/dw_nq = -1/2
    sum_kj H_kj c_nkj U_kq U_jq and dL/dU_kq = -sum_n w_nq sum_j H_kj c_nkj U_jq."""
    n_inducing, latent_dim = U.shape
    size = n_inducing * (n_inducing + 1) // 2
    keep = blocks.shape[0] > 0
    half = 0.5 * (G + G.T)
    b = 0.5 * (b + b.T)
    U_T = np.ascontiguousarray(U.T)  # the inner loops run over inducing points: contiguous
    grad_a = np.empty_like(a)
    grad_w = np.zeros_like(w)
    partial_U = np.zeros((len(bounds) - 1, n_inducing, latent_dim))
    for chunk in numba.prange(len(bounds) - 1):
        c = np.empty((n_inducing, n_inducing))
        work, values = np.empty(size), np.empty(size)
        k_buf = np.empty(size, dtype=np.int64)
        row = np.empty(n_inducing)
        for n in range(bounds[chunk], bounds[chunk + 1]):
            if keep:
                _unpack(blocks[n], c)
            else:
                _packed_terms(a[n], w[n], U_T, b, work, k_buf, values)
                _unpack(values, c)
            for k in range(n_inducing):
                r0 = 0.0
                for j in range(n_inducing):
                    row[j] = half[k, j] * c[k, j]
                    r0 += row[j]
                grad_a[n, k] = 2.0 * r0
                # Plain loops rather than a matmul: BLAS threads would compete with these.
                for q in range(latent_dim):
                    r = 0.0
                    for j in range(n_inducing):
                        r += row[j] * U_T[q, j]
                    grad_w[n, q] -= 0.5 * U[k, q] * r
                    partial_U[chunk, k, q] -= w[n, q] * r
    return grad_a, grad_w, partial_U.sum(axis=0)


# The forward pass keeps its terms for the backward pass up to this many bytes (half the work of
# the gradient); above it (N > 16,000 at M = 64) the backward pass recomputes them.
KEEP_BLOCKS_BYTES = 2**28


def _kept_shape(n_obs: int, n_inducing: int) -> tuple[int, int]:
    """The shape of the terms kept for the gradient: every row's packed triangle, or no rows
    when they would take more than KEEP_BLOCKS_BYTES."""
    size = n_inducing * (n_inducing + 1) // 2
    return (n_obs if n_obs * size * 8 <= KEEP_BLOCKS_BYTES else 0), size


# The same for the numba backend's compiled call (which reads KEEP_BLOCKS_BYTES when it compiles).
_kept_shape_numba = numba.njit(_kept_shape)


class CouplingSumGrad(Op):
    """Gradients of :class:`CouplingSum` with respect to a, w and U, given that of T."""

    __props__ = ()

    def make_node(self, a, w, U, b, G, blocks):
        inputs = [pt.as_tensor(x).astype("float64") for x in (a, w, U, b, G)]
        return Apply(self, [*inputs, pt.as_tensor(blocks)], [x.type() for x in inputs[:3]])

    def perform(self, node, inputs, outputs):
        a, w, U, b, G, blocks = (np.ascontiguousarray(x) for x in inputs)
        grads = _coupling_sum_grad(a, w, U, b, G, _chunks(*a.shape), blocks)
        for slot, value in zip(outputs, grads, strict=True):
            slot[0] = value


class CouplingSum(Op):
    """T = sum_n exp(a_n 1^T + 1 a_n^T - 1/2 U diag(w_n) U^T + (b + b^T) / 2), shape (M, M).

    A second output holds each row's terms, their upper triangle packed (N, M (M + 1) / 2), for
    the gradient; it is empty when they would take more than :data:`KEEP_BLOCKS_BYTES`.
    """

    __props__ = ()

    def __init__(self) -> None:
        # The terms' buffer of each node, kept between calls: PyTensor frees an output's storage
        # after its last use, and faulting in the fresh pages of a 30 MB buffer (digits, M = 64)
        # cost more than the sum itself. A node's one reader, its gradient, runs before that
        # node's next forward pass.
        self._blocks: dict[Apply, np.ndarray] = {}

    def make_node(self, a, w, U, b):
        inputs = [pt.as_tensor(x).astype("float64") for x in (a, w, U, b)]
        return Apply(self, inputs, [pt.matrix(dtype="float64"), pt.matrix(dtype="float64")])

    def perform(self, node, inputs, outputs):
        a, w, U, b = (np.ascontiguousarray(x) for x in inputs)
        n_obs, n_inducing = a.shape
        shape = _kept_shape(n_obs, n_inducing)
        blocks = self._blocks.get(node)
        if blocks is None or blocks.shape != shape:
            blocks = self._blocks[node] = np.empty(shape)
        outputs[0][0] = _coupling_sum(a, w, U, b, _chunks(n_obs, n_inducing), blocks)
        outputs[1][0] = blocks

    def pullback(self, inputs, outputs, cotangents):
        G = cotangents[0]
        grad_a, grad_w, grad_U = CouplingSumGrad()(*inputs, G, outputs[1])
        # b enters each term as (b + b^T) / 2, and T is symmetric.
        grad_b = 0.5 * (G + G.T) * outputs[0]
        return [grad_a, grad_w, grad_U, grad_b]


def coupling_sum(a, w, U, b) -> pt.TensorVariable:
    """T (M x M); see :class:`CouplingSum`."""
    return CouplingSum()(a, w, U, b)[0]


@numba.njit
def _coupling_sum_numba(a, w, U, b):  # pragma: no cover (compiled)
    n_obs, n_inducing = a.shape
    blocks = np.empty(_kept_shape_numba(n_obs, n_inducing))
    return _coupling_sum(a, w, U, b, _chunks(n_obs, n_inducing), blocks), blocks


@numba.njit
def _coupling_sum_grad_numba(a, w, U, b, G, blocks):  # pragma: no cover (compiled)
    return _coupling_sum_grad(a, w, U, b, G, _chunks(a.shape[0], a.shape[1]), blocks)


def _register_numba() -> None:
    """Let PyTensor's numba backend call the compiled loops (it has no fallback for new Ops)."""
    from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

    register_funcify_default_op_cache_key(CouplingSum)(lambda op, node=None, **kwargs: _coupling_sum_numba)
    register_funcify_default_op_cache_key(CouplingSumGrad)(
        lambda op, node=None, **kwargs: _coupling_sum_grad_numba
    )


_register_numba()
