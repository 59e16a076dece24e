"""Titsias's collapsed bound from its M-sized statistics, with its gradient, as one Op.

The bound reads the data only through P = Psi1^T Y (M x D), ||Y||^2 and Psi2 (M x M), so
everything after those products is a handful of M x M factorisations. As PyTensor operations
the value and gradient took about 200 nodes (1.7 ms on the python backend at M = 64, mostly
per-node overhead); here they are one Cholesky factor of K_uu, one of B = I + A and a few
products. With L L^T = K_uu, A = L^-1 Psi2 L^-T / noise, B = I + A, c as in
:func:`gplvm.model.collapsed_bound.collapsed_bound` and V = Sigma^-1 P / noise, where
Sigma = K_uu + Psi2 / noise = L B L^T, the gradient is::

    dF/dP     = V / noise
    dF/dPsi2  = (D L^-T B^-1 A L^-1 - V V^T) / (2 noise)
    dF/dK_uu  = -(D L^-T B^-1 A^2 L^-1 + V V^T) / 2
    dF/dpsi0  = -D / (2 noise)
    dF/dnoise = -N D / (2 noise) + (||Y||^2 + D psi0) / (2 noise^2) - ||c||^2 / noise
                - D tr(A - B^-1 A) / (2 noise) + <V V^T, Psi2> / (2 noise^2)

B^-1 A (which equals I - B^-1) is formed as a product: where K_uu and Psi2 share a near-null
direction (a linear kernel with more inducing inputs than latent dims), K_uu^-1 and Sigma^-1
are both huge along it and their difference is not; taking it as a difference lost 4 digits.
The gradients are computed with the value (a few M^3 products) and scaled by the incoming
gradient in :meth:`CollapsedBound.pullback`.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from scipy.linalg import solve_triangular

from gplvm.model.constants import LOG_2PI


def _bound_function(solve_lower, solve_lower_t):
    """:func:`bound_and_gradients` built on the given triangular solves (SciPy's in NumPy; numba
    has none and uses general ones): ``solve_lower(L, B)`` = L^-1 B, ``solve_lower_t(L, B)`` = L^-T B."""

    def bound_and_gradients(psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features):
        n_inducing = Kuu.shape[0]
        eye = np.eye(n_inducing)
        L = np.linalg.cholesky(Kuu)
        A = solve_lower(L, solve_lower(L, Psi2).T) / noise
        L_B = np.linalg.cholesky(eye + A)
        c = solve_lower(L_B, solve_lower(L, P)) / noise
        log_det_B = 2.0 * np.sum(np.log(np.diag(L_B)))
        c_sq = np.sum(c * c)
        trace_A = np.trace(A)
        value = (
            -0.5 * n_obs * n_features * (LOG_2PI + np.log(noise))
            - 0.5 * n_features * log_det_B
            - 0.5 * Y_sq_norm / noise
            + 0.5 * c_sq
            - 0.5 * n_features * (psi0 / noise - trace_A)
        )
        V = solve_lower_t(L, solve_lower_t(L_B, c))  # Sigma^-1 P / noise
        # B^-1 A as a product, not I - B^-1: where K_uu and Psi2 share a near-null direction,
        # K_uu^-1 and Sigma^-1 are both huge there and their difference is not.
        BA = solve_lower_t(L_B, solve_lower(L_B, A))
        BA = 0.5 * (BA + BA.T)
        VV = V @ V.T
        grad_P = V / noise
        # L^-T X L^-1 = (L^-T (L^-T X)^T)^T, by solves
        whitened_Psi2 = solve_lower_t(L, solve_lower_t(L, BA).T).T
        whitened_Kuu = solve_lower_t(L, solve_lower_t(L, BA @ A).T).T
        grad_Psi2 = (0.5 * n_features * whitened_Psi2 - 0.5 * VV) / noise
        grad_Kuu = -0.5 * n_features * whitened_Kuu - 0.5 * VV
        grad_noise = (
            -0.5 * n_obs * n_features / noise
            + 0.5 * (Y_sq_norm + n_features * psi0) / noise**2
            - c_sq / noise
            - 0.5 * n_features * (trace_A - np.trace(BA)) / noise
            + 0.5 * np.sum(VV * Psi2) / noise**2
        )
        return (
            np.asarray(value),
            np.asarray(-0.5 * n_features / noise),
            grad_P,
            grad_Psi2,
            grad_Kuu,
            np.asarray(grad_noise),
            np.asarray(-0.5 / noise),
        )

    return bound_and_gradients


def _scipy_solve_lower(L, B):
    return solve_triangular(L, B, lower=True)


def _scipy_solve_lower_t(L, B):
    return solve_triangular(L, B, lower=True, trans="T")


bound_and_gradients = _bound_function(_scipy_solve_lower, _scipy_solve_lower_t)
bound_and_gradients.__doc__ = """(F, dF/dpsi0, dF/dP, dF/dPsi2, dF/dK_uu, dF/dnoise, dF/d||Y||^2) as
float64 arrays. Raises ``np.linalg.LinAlgError`` when K_uu or B is not positive definite."""


def _failed(P, Psi2):
    """NaN for every output: what PyTensor's own Cholesky gives a matrix that is not positive definite."""
    nan = np.asarray(np.nan)
    return nan, nan, np.full_like(P, np.nan), np.full_like(Psi2, np.nan), np.full_like(Psi2, np.nan), nan, nan


def _bound_outputs() -> list:
    """The output types of both bound Ops: F, then the gradients in psi0, P, Psi2, K_uu, noise, ||Y||^2."""
    scalar, matrix = pt.scalar(dtype="float64"), pt.matrix(dtype="float64")
    return [scalar, scalar.type(), matrix, matrix.type(), matrix.type(), scalar.type(), scalar.type()]


def _store_bound(outputs, psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features) -> None:
    """Both bound Ops' perform: :func:`bound_and_gradients` into ``outputs``, NaN where it fails."""
    try:
        values = bound_and_gradients(psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features)
    except np.linalg.LinAlgError:
        values = _failed(P, Psi2)
    for slot, value in zip(outputs, values, strict=True):
        slot[0] = value


class CollapsedBound(Op):
    """F from (psi0, P = Psi1^T Y, Psi2, K_uu, noise, ||Y||^2, N, D); the other outputs are its
    gradients with respect to the first six inputs (see the module's docstring)."""

    __props__ = ()

    def make_node(self, psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features):
        values = (psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features)
        inputs = [pt.as_tensor(x).astype("float64") for x in values]
        return Apply(self, inputs, _bound_outputs())

    def perform(self, node, inputs, outputs):
        _store_bound(outputs, *inputs)

    def pullback(self, inputs, outputs, cotangents):
        g = cotangents[0]
        grads = [g * d for d in outputs[1:]]
        # N and D are sizes: nothing upstream depends on them smoothly.
        return [*grads, pt.zeros_like(inputs[6]), pt.zeros_like(inputs[7])]


class PointBoundGrad(Op):
    """dF/dPsi1 of :class:`PointBound`: g (Y (dF/dP)^T + 2 Psi1 dF/dPsi2), dF/dPsi2 symmetric."""

    __props__ = ()

    def make_node(self, Psi1, Y, grad_P, grad_Psi2, g):
        inputs = [pt.as_tensor(x).astype("float64") for x in (Psi1, Y, grad_P, grad_Psi2, g)]
        return Apply(self, inputs, [inputs[0].type()])

    def perform(self, node, inputs, outputs):
        Psi1, Y, grad_P, grad_Psi2, g = inputs
        out = Y @ (g * grad_P.T)
        out += Psi1 @ (2.0 * g * grad_Psi2)
        outputs[0][0] = out


class PointBound(Op):
    """:class:`CollapsedBound` with the psi statistics of a point Z (the sparse form): from psi0,
    Psi1 = k(Z, U) (N, M), Y, K_uu, noise and ||Y||^2, with P = Psi1^T Y and Psi2 = Psi1^T Psi1
    formed inside. Its gradient with respect to Psi1 is one pass over (N, M) (two products into
    one array) where the graph took three products and a sum of three (N, M) arrays."""

    __props__ = ()

    def make_node(self, psi0, Psi1, Y, Kuu, noise, Y_sq_norm):
        inputs = [pt.as_tensor(x).astype("float64") for x in (psi0, Psi1, Y, Kuu, noise, Y_sq_norm)]
        return Apply(self, inputs, _bound_outputs())

    def perform(self, node, inputs, outputs):
        psi0, Psi1, Y, Kuu, noise, Y_sq_norm = inputs
        _store_bound(outputs, psi0, Psi1.T @ Y, Psi1.T @ Psi1, Kuu, noise, Y_sq_norm, *Y.shape)

    def pullback(self, inputs, outputs, cotangents):
        Psi1, Y = inputs[1], inputs[2]
        _, grad_psi0, grad_P, grad_Psi2, grad_Kuu, grad_noise, grad_Y_sq = outputs
        g = cotangents[0]
        grad_Psi1 = PointBoundGrad()(Psi1, Y, grad_P, grad_Psi2, g)
        # Y is data: nothing upstream of it is learned.
        return [g * grad_psi0, grad_Psi1, pt.zeros_like(Y), g * grad_Kuu, g * grad_noise, g * grad_Y_sq]


def point_bound_op(psi0, Psi1, Y, Kuu, noise, Y_sq_norm) -> pt.TensorVariable:
    """F of the sparse form; see :class:`PointBound`."""
    return PointBound()(psi0, Psi1, Y, Kuu, noise, Y_sq_norm)[0]


def collapsed_bound_op(psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features) -> pt.TensorVariable:
    """F; see :class:`CollapsedBound`."""
    return CollapsedBound()(psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features)[0]


def register_numba() -> None:
    """Let PyTensor's numba backend call this Op: the same function, compiled by numba."""
    import numba
    from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

    @numba.njit
    def solve_lower(L, B):  # pragma: no cover (compiled)
        return np.linalg.solve(L, B)

    @numba.njit
    def solve_lower_t(L, B):  # pragma: no cover (compiled)
        return np.linalg.solve(L.T, B)

    compiled = numba.njit(_bound_function(solve_lower, solve_lower_t))
    failed = numba.njit(_failed)

    @numba.njit
    def bound(psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features):  # pragma: no cover (compiled)
        try:
            return compiled(psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features)
        except Exception:
            return failed(P, Psi2)

    @numba.njit
    def point_bound(psi0, Psi1, Y, Kuu, noise, Y_sq_norm):  # pragma: no cover (compiled)
        P, Psi2 = Psi1.T @ Y, Psi1.T @ Psi1
        n_obs, n_features = Y.shape
        return bound(psi0, P, Psi2, Kuu, noise, Y_sq_norm, np.float64(n_obs), np.float64(n_features))

    @numba.njit
    def point_bound_grad(Psi1, Y, grad_P, grad_Psi2, g):  # pragma: no cover (compiled)
        return Y @ (g * grad_P.T) + Psi1 @ (2.0 * g * grad_Psi2)

    register_funcify_default_op_cache_key(CollapsedBound)(lambda op, node=None, **kwargs: bound)
    register_funcify_default_op_cache_key(PointBound)(lambda op, node=None, **kwargs: point_bound)
    register_funcify_default_op_cache_key(PointBoundGrad)(lambda op, node=None, **kwargs: point_bound_grad)
