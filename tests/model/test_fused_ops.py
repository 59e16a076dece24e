"""The Ops that fuse parts of the Bayesian GPLVM's bound (gplvm.model.psi_rows and
gplvm.model.bound_ops) against independent references: the psi1 integral as a product over
latent dims, PyTensor's own differentiation of the bound written as plain operations, and
finite differences. Both backends that run them (python and numba) are checked."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.tensor.linalg import cholesky, solve_triangular

from gplvm.inference.base import compile_mode
from gplvm.inference.numba_support import register_numba_ops
from gplvm.model.bound_ops import collapsed_bound_op
from gplvm.model.constants import LOG_2PI
from gplvm.model.psi_rows import psi_rows
from tests.helpers import TEST_MODE


def _rows_problem(seed=0, n_obs=9, n_inducing=4, latent_dim=3):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(n_obs, latent_dim)),
        rng.uniform(0.05, 1.0, (n_obs, latent_dim)),
        rng.normal(size=(n_inducing, latent_dim)),
        rng.uniform(0.5, 2.0, latent_dim),
        np.asarray(1.7),
    ]


def test_psi_rows_equal_products_over_latent_dims_and_finite_differences():
    """psi1 = v prod_q (1 + s/l^2)^-1/2 exp(-(mu - u)^2 / (2 (l^2 + s))), and e_nm e_nm' times the
    coupling factor is the Psi2 term prod_q (1 + 2s/l^2)^-1/2 exp(-(u - u')^2 / (4 l^2)
    - (mu - (u + u')/2)^2 / (l^2 + 2s)) times v^2, each evaluated as written over (N, M, Q)."""
    mean, S, U, ell2, variance = _rows_problem()
    psi1, log_e = (x.eval(mode=TEST_MODE) for x in psi_rows(mean, S, U, ell2, variance))
    d = mean[:, None, :] - U[None, :, :]
    s, l2 = S[:, None, :], ell2
    expected_psi1 = variance * np.prod((1 + s / l2) ** -0.5 * np.exp(-(d**2) / (2 * (l2 + s))), axis=2)
    np.testing.assert_allclose(psi1, expected_psi1, rtol=1e-13)

    mid = 0.5 * (U[:, None, :] + U[None, :, :])  # (M, M, Q)
    apart = (U[:, None, :] - U[None, :, :]) ** 2
    s2 = S[:, None, None, :]
    terms = variance**2 * np.prod(
        (1 + 2 * s2 / l2) ** -0.5
        * np.exp(-apart / (4 * l2) - (mean[:, None, None, :] - mid) ** 2 / (l2 + 2 * s2)),
        axis=3,
    )
    w2 = 1 / (ell2 + 2 * S)
    coupling = -0.5 * np.einsum("nq,mq,kq->nmk", w2, U, U) - 0.25 * np.sum(apart / ell2, axis=2)
    rebuilt = np.exp(log_e[:, :, None] + log_e[:, None, :] + coupling)
    np.testing.assert_allclose(rebuilt, terms, rtol=1e-12)

    rng = np.random.default_rng(1)
    G1, G2 = rng.normal(size=psi1.shape), rng.normal(size=log_e.shape)
    register_numba_ops()  # verify_grad compiles part of its check with PyTensor's default, numba

    def weighted(mean, S, U, ell2, variance):
        p1, le = psi_rows(mean, S, U, ell2, variance)
        return pt.sum(G1 * p1) + pt.sum(G2 * le)

    verify_grad(weighted, [mean, S, U, ell2, variance], rng=rng, mode=TEST_MODE)


def _plain_bound(psi0, P, Psi2, Kuu, noise, Y_sq_norm, n_obs, n_features):
    """The collapsed bound as plain PyTensor operations, for PyTensor to differentiate."""
    L = cholesky(Kuu, lower=True)
    A = solve_triangular(L, solve_triangular(L, Psi2, lower=True).T, lower=True) / noise
    L_B = cholesky(pt.eye(A.shape[0]) + A, lower=True)
    c = solve_triangular(L_B, solve_triangular(L, P, lower=True), lower=True) / noise
    return (
        -0.5 * n_obs * n_features * (LOG_2PI + pt.log(noise))
        - n_features * pt.sum(pt.log(pt.diagonal(L_B)))
        - 0.5 * Y_sq_norm / noise
        + 0.5 * pt.sum(c**2)
        - 0.5 * n_features * (psi0 / noise - pt.trace(A))
    )


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("low_rank", [False, True])
def test_the_bound_op_equals_the_differentiated_plain_graph(backend, low_rank):
    """Value and every gradient of gplvm.model.bound_ops against PyTensor's differentiation of the
    plain graph, through symmetric Psi2 = X X^T and K_uu = W W^T + jitter I. ``low_rank``: K_uu of
    rank 2 plus 1e-6 (a linear kernel with M > Q), where a difference of inverses loses digits."""
    rng = np.random.default_rng(2)
    n_obs, n_features, n_inducing = 40, 5, 6
    rank = 2 if low_rank else n_inducing
    W_value = rng.normal(size=(n_inducing, rank))
    X_value = W_value @ rng.normal(size=(rank, n_obs)) if low_rank else rng.normal(size=(n_inducing, n_obs))
    Y = rng.normal(size=(n_obs, n_features))
    jitter = 1e-6 if low_rank else 0.5
    psi0, P, X, W, noise = (
        pt.scalar("psi0"),
        pt.matrix("P"),
        pt.matrix("X"),
        pt.matrix("W"),
        pt.scalar("noise"),
    )
    Psi2, Kuu = X @ X.T, W @ W.T + jitter * pt.eye(n_inducing)
    args = [float(np.sum(X_value**2)) + 3.0, X_value @ Y, X_value, W_value, 0.3]
    y_sq = float(np.sum(Y**2))
    outputs = {}
    for name, bound in [("op", collapsed_bound_op), ("plain", _plain_bound)]:
        F = bound(psi0, P, Psi2, Kuu, noise, y_sq, n_obs, n_features)
        wrt = [psi0, P, X, W, noise]
        fn = pytensor.function(wrt, [F, *pytensor.grad(F, wrt)], mode=compile_mode(backend))
        outputs[name] = fn(*args)
    # Both sides round to about eps x cond(K_uu) (1e7 when low_rank, where they differ by 1e-8).
    condition = np.linalg.cond(W_value @ W_value.T + jitter * np.eye(n_inducing))
    tol = max(1e-9, 1e-14 * condition)
    for got, expected in zip(outputs["op"], outputs["plain"], strict=True):
        scale = max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_the_bound_op_gives_nan_where_k_uu_does_not_factorise(backend):
    """As PyTensor's own Cholesky does: NaN, which the optimiser's line search backs away from."""
    Kuu = pt.matrix("Kuu")
    F = collapsed_bound_op(1.0, np.ones((3, 2)), np.eye(3), Kuu, 0.5, 4.0, 10, 2)
    value = pytensor.function([Kuu], F, mode=compile_mode(backend))
    assert np.isnan(value(-np.eye(3)))
    assert np.isfinite(value(np.eye(3)))


def test_psi_rows_on_the_numba_backend_equal_the_python_backend():
    mean, S, U, ell2, variance = _rows_problem(seed=4)
    inputs = [pt.matrix("mean"), pt.matrix("S"), pt.matrix("U"), pt.vector("ell2"), pt.scalar("variance")]
    psi1, log_e = psi_rows(*inputs)
    objective = pt.sum(psi1 * log_e)
    outputs = [
        pytensor.function(inputs, [psi1, log_e, *pytensor.grad(objective, inputs)], mode=compile_mode(b))(
            mean, S, U, ell2, variance
        )
        for b in ("python", "numba")
    ]
    for got, expected in zip(*outputs, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_the_rbf_cross_op_equals_the_distance_graph_and_finite_differences(backend):
    """gplvm.model.psi_rows.rbf_cross against the squared-distance expression (SciPy's cdist) in
    value, PyTensor's differentiation of the plain graph in gradient, and finite differences."""
    from scipy.spatial.distance import cdist

    from gplvm.model.psi_rows import rbf_cross

    rng = np.random.default_rng(5)
    Z, U = rng.normal(size=(11, 3)), rng.normal(size=(4, 3))
    ell2, variance = rng.uniform(0.5, 2.0, 3), np.asarray(1.3)
    expected = variance * np.exp(-0.5 * cdist(Z / np.sqrt(ell2), U / np.sqrt(ell2), "sqeuclidean"))
    inputs = [pt.matrix("Z"), pt.matrix("U"), pt.vector("ell2"), pt.scalar("variance")]
    G = rng.normal(size=expected.shape)
    plain_r2 = pt.sum((inputs[0][:, None, :] - inputs[1][None, :, :]) ** 2 / inputs[2], axis=2)
    outputs = {}
    for name, K in [("op", rbf_cross(*inputs)), ("plain", inputs[3] * pt.exp(-0.5 * plain_r2))]:
        fn = pytensor.function(inputs, [K, *pytensor.grad(pt.sum(G * K), inputs)], mode=compile_mode(backend))
        outputs[name] = fn(Z, U, ell2, variance)
    np.testing.assert_allclose(outputs["op"][0], expected, rtol=1e-13)
    for got, want in zip(outputs["op"], outputs["plain"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)
    register_numba_ops()
    verify_grad(lambda *x: pt.sum(G * rbf_cross(*x)), [Z, U, ell2, variance], rng=rng, mode=TEST_MODE)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_the_point_bound_equals_the_bound_op_on_psi1_products(backend):
    """gplvm.model.bound_ops.point_bound_op (Psi1^T Y and Psi1^T Psi1 formed inside, one pass for
    the gradient in Psi1) against collapsed_bound_op given those products as graph nodes."""
    from gplvm.model.bound_ops import point_bound_op

    rng = np.random.default_rng(6)
    n_obs, n_features, n_inducing = 30, 4, 5
    Psi1_value, Y = rng.uniform(0.0, 1.0, (n_obs, n_inducing)), rng.normal(size=(n_obs, n_features))
    W_value = rng.normal(size=(n_inducing, n_inducing))
    Psi1, W, noise = pt.matrix("Psi1"), pt.matrix("W"), pt.scalar("noise")
    Kuu = W @ W.T + 0.3 * pt.eye(n_inducing)
    y_sq = float(np.sum(Y**2))
    outputs = {}
    for name, F in [
        ("point", point_bound_op(7.0, Psi1, Y, Kuu, noise, y_sq)),
        ("graph", collapsed_bound_op(7.0, Psi1.T @ Y, Psi1.T @ Psi1, Kuu, noise, y_sq, n_obs, n_features)),
    ]:
        wrt = [Psi1, W, noise]
        fn = pytensor.function(wrt, [F, *pytensor.grad(F, wrt)], mode=compile_mode(backend))
        outputs[name] = fn(Psi1_value, W_value, 0.4)
    for got, expected in zip(outputs["point"], outputs["graph"], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
