"""The rbf psi statistics' per-row parts, psi1 and the log of Psi2's row factors, as one Op.

For q(z_n) = N(mu_n, diag s_n), kernel variance v, length scales l and inducing inputs U, with
w1 = 1 / (l^2 + s) and w2 = 1 / (l^2 + 2 s)::

    psi1[n, m]  = v prod_q (1 + s_nq / l_q^2)^-1/2 exp(-w1_nq (mu_nq - u_mq)^2 / 2)
    log_e[n, m] = log v - 1/4 sum_q log(1 + 2 s_nq / l_q^2)
                  - 1/2 sum_q w2_nq (mu_nq^2 - 2 mu_nq u_mq + u_mq^2 / 2)

Both are one matrix product of an (N, 2Q) matrix with [U, U^2]^T plus a per-row term, and the
gradient (written out in :func:`rows_backward`) is four more products and a few passes over
(N, M). As PyTensor operations the pair and its gradient took 120 nodes and 5.5 ms on digits'
shape (M = 64, Q = 5), a quarter of one evaluation of the Bayesian GPLVM's bound; most of it
was the per-node overhead of the python backend and (N, M) temporaries. The variance is taken
inside (as a term of each exponent) so that no (N, M) product by it is left outside.

At s = 0, psi1 is the rbf cross-covariance k(Z, U) itself: :class:`RBFCross` is that case alone
(the sparse form's Psi1, and every rbf k(Z, Z') of the package), with its own gradient.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op


def rows_forward(mean, S, U, ell2, variance):
    """(psi1 (N, M), log_e (N, M)) of the rbf kernel without its bias."""
    w1 = 1.0 / (ell2 + S)
    w2 = 1.0 / (ell2 + 2.0 * S)
    powers = np.concatenate((U.T, U.T * U.T))  # (2Q, M)
    log_v = np.log(variance)
    row1 = log_v - 0.5 * np.sum(np.log1p(S / ell2) + mean * mean * w1, axis=1)
    # In place: a fresh (N, M) temporary costs more in page faults than the arithmetic on it.
    psi1 = np.concatenate((mean * w1, -0.5 * w1), axis=1) @ powers
    psi1 += row1.reshape((-1, 1))
    np.exp(psi1, psi1)
    row2 = log_v - 0.25 * np.sum(np.log1p(2.0 * S / ell2), axis=1) - 0.5 * np.sum(mean * mean * w2, axis=1)
    log_e = np.concatenate((mean * w2, -0.25 * w2), axis=1) @ powers
    log_e += row2.reshape((-1, 1))
    return psi1, log_e


def rows_backward(mean, S, U, ell2, variance, psi1, grad_psi1, grad_log_e):
    """Gradients of L with respect to (mean, S, U, ell2, variance) from dL/dpsi1 and dL/dlog_e.

    With P = dL/dpsi1 * psi1 (the gradient of psi1's exponent), p = P 1, r = dL/dlog_e 1::

        dL/dmu  = -w1 (p mu - P U) + w2 (G U - r mu)
        dL/dw1  = -1/2 (p mu^2 - 2 mu (P U) + P U^2)
        dL/dw2  = -1/2 r mu^2 + mu (G U) - 1/4 G U^2
        dL/ds   = -1/2 p w1 - w1^2 dL/dw1 - 1/2 r w2 - 2 w2^2 dL/dw2
        dL/dl^2 = sum_n (p w1 s / (2 l^2) - w1^2 dL/dw1 + r w2 s / (2 l^2) - w2^2 dL/dw2)
        dL/dU   = P^T (w1 mu) - U * (P^T w1) + G^T (w2 mu) - U * (G^T w2) / 2
        dL/dv   = sum_n (p + r) / v

    where G = dL/dlog_e and products by p, r broadcast over columns.
    """
    n_latent = mean.shape[1]
    w1 = 1.0 / (ell2 + S)
    w2 = 1.0 / (ell2 + 2.0 * S)
    P = grad_psi1 * psi1
    p = np.sum(P, axis=1).reshape((-1, 1))
    r = np.sum(grad_log_e, axis=1).reshape((-1, 1))
    powers = np.concatenate((U, U * U), axis=1)  # (M, 2Q)
    PU = P @ powers
    GU = grad_log_e @ powers
    PU1, PU2 = PU[:, :n_latent], PU[:, n_latent:]
    GU1, GU2 = GU[:, :n_latent], GU[:, n_latent:]
    mean2 = mean * mean
    grad_mean = w2 * (GU1 - r * mean) - w1 * (p * mean - PU1)
    grad_w1 = -0.5 * (p * mean2 - 2.0 * mean * PU1 + PU2)
    grad_w2 = -0.5 * r * mean2 + mean * GU1 - 0.25 * GU2
    w1_sq_grad, w2_sq_grad = w1 * w1 * grad_w1, w2 * w2 * grad_w2
    grad_S = -0.5 * (p * w1 + r * w2) - w1_sq_grad - 2.0 * w2_sq_grad
    grad_ell2 = np.sum(0.5 * S * (p * w1 + r * w2) / ell2 - w1_sq_grad - w2_sq_grad, axis=0)
    A = P.T @ np.concatenate((w1 * mean, w1), axis=1)  # (M, 2Q)
    B = grad_log_e.T @ np.concatenate((w2 * mean, w2), axis=1)
    grad_U = A[:, :n_latent] + B[:, :n_latent] - U * (A[:, n_latent:] + 0.5 * B[:, n_latent:])
    grad_variance = np.asarray(np.sum(p + r) / variance)
    return grad_mean, grad_S, grad_U, grad_ell2, grad_variance


def cross_forward(Z, U, ell2, variance):
    """k(Z, U) = v exp(-1/2 sum_q (z_q - u_q)^2 / l_q^2) (N, M), without the bias."""
    w = 1.0 / ell2
    Zw = Z * w
    K = Zw @ U.T
    K += (np.log(variance) - 0.5 * np.sum(Zw * Z, axis=1)).reshape((-1, 1))
    K -= (0.5 * ((U * U) @ w)).reshape((1, -1))
    np.exp(K, K)
    return K


def cross_backward(Z, U, ell2, variance, K, grad_K):
    """Gradients of L with respect to (Z, U, ell2, variance) from dL/dK.

    With P = dL/dK * K, p = P 1, t = P^T 1 and w = 1 / l^2::

        dL/dZ   = w (P U - p Z)
        dL/dU   = w (P^T Z - t U)
        dL/dl^2 = w^2 (p^T Z^2 - 2 sum_n Z (P U) + t^T U^2) / 2
        dL/dv   = sum P / v
    """
    w = 1.0 / ell2
    P = grad_K * K
    p = np.sum(P, axis=1)
    t = np.sum(P, axis=0)
    PU = P @ U
    grad_Z = w * (PU - p.reshape((-1, 1)) * Z)
    grad_U = w * (P.T @ Z - t.reshape((-1, 1)) * U)
    grad_ell2 = 0.5 * w * w * (p @ (Z * Z) - 2.0 * np.sum(Z * PU, axis=0) + t @ (U * U))
    return grad_Z, grad_U, grad_ell2, np.asarray(np.sum(P) / variance)


def _float_inputs(*values):
    return [pt.as_tensor(x).astype("float64") for x in values]


class RBFPsiRowsGrad(Op):
    """Gradients of :class:`RBFPsiRows` with respect to (mean, S, U, ell2, variance)."""

    __props__ = ()

    def make_node(self, mean, S, U, ell2, variance, psi1, grad_psi1, grad_log_e):
        inputs = _float_inputs(mean, S, U, ell2, variance, psi1, grad_psi1, grad_log_e)
        return Apply(self, inputs, [x.type() for x in inputs[:5]])

    def perform(self, node, inputs, outputs):
        for slot, value in zip(outputs, rows_backward(*inputs), strict=True):
            slot[0] = value


class RBFPsiRows(Op):
    """(psi1, log_e), each (N, M), from (mean (N, Q), S (N, Q), U (M, Q), ell2 (Q,), variance ())."""

    __props__ = ()

    def make_node(self, mean, S, U, ell2, variance):
        inputs = _float_inputs(mean, S, U, ell2, variance)
        return Apply(self, inputs, [pt.matrix(dtype="float64"), pt.matrix(dtype="float64")])

    def perform(self, node, inputs, outputs):
        for slot, value in zip(outputs, rows_forward(*inputs), strict=True):
            slot[0] = value

    def pullback(self, inputs, outputs, cotangents):
        grads = [
            pt.zeros_like(out) if isinstance(ct.type, DisconnectedType) else ct
            for out, ct in zip(outputs, cotangents, strict=True)
        ]
        return list(RBFPsiRowsGrad()(*inputs, outputs[0], *grads))


class RBFCrossGrad(Op):
    """Gradients of :class:`RBFCross` with respect to (Z, U, ell2, variance)."""

    __props__ = ()

    def make_node(self, Z, U, ell2, variance, K, grad_K):
        inputs = _float_inputs(Z, U, ell2, variance, K, grad_K)
        return Apply(self, inputs, [x.type() for x in inputs[:4]])

    def perform(self, node, inputs, outputs):
        for slot, value in zip(outputs, cross_backward(*inputs), strict=True):
            slot[0] = value


class RBFCross(Op):
    """k(Z, U) (N, M) of the rbf kernel without its bias, from Z (N, Q), U (M, Q), ell2 (Q,) and
    the variance."""

    __props__ = ()

    def make_node(self, Z, U, ell2, variance):
        inputs = _float_inputs(Z, U, ell2, variance)
        return Apply(self, inputs, [pt.matrix(dtype="float64")])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = cross_forward(*inputs)

    def pullback(self, inputs, outputs, cotangents):
        return list(RBFCrossGrad()(*inputs, outputs[0], cotangents[0]))


def rbf_cross(Z, U, ell2, variance) -> pt.TensorVariable:
    """k(Z, U) of the rbf kernel without its bias; see :class:`RBFCross`."""
    return RBFCross()(Z, U, ell2, variance)


def psi_rows(mean, S, U, ell2, variance) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """(psi1, log_e) of the rbf kernel without its bias; see :class:`RBFPsiRows`."""
    psi1, log_e = RBFPsiRows()(mean, S, U, ell2, variance)
    return psi1, log_e


def register_numba() -> None:
    """Let PyTensor's numba backend call these Ops: the same functions, compiled by numba."""
    import numba
    from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

    for op, function in [
        (RBFPsiRows, rows_forward),
        (RBFPsiRowsGrad, rows_backward),
        (RBFCross, cross_forward),
        (RBFCrossGrad, cross_backward),
    ]:
        compiled = numba.njit(function)
        register_funcify_default_op_cache_key(op)(lambda op, node=None, compiled=compiled, **kwargs: compiled)
