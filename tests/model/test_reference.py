"""The NumPy references agree with each other, with finite differences and with the analytic optimum."""

from __future__ import annotations

import numpy as np
import pytest

from gplvm.model import analytic
from gplvm.model import reference as cf
from gplvm.model.forms.woodbury import Woodbury
from gplvm.model.kernels.linear import Linear
from tests.helpers import central_difference, random_problem

SHAPES = [(6, 9, 2), (12, 3, 1), (15, 4, 3), (8, 8, 5)]  # (N, D, Q): N < D, N > D, Q = 1, Q >= 3
BETAS = [0.01, 1.0, 100.0]


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("shape", SHAPES)
def test_woodbury_value_and_gradient_equal_dense(shape, beta):
    Z, Y = random_problem(*shape)
    dense = cf.log_likelihood_dense(Z, Y, beta)
    np.testing.assert_allclose(Woodbury(Linear()).log_likelihood_np(Z, Y, {"beta": beta}), dense, rtol=1e-10)
    np.testing.assert_allclose(cf.grad_Z(Z, Y, beta), cf.grad_Z_dense(Z, Y, beta), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("shape", SHAPES)
def test_eq4_matches_finite_differences(shape, beta):
    Z, Y = random_problem(*shape, seed=1)
    numeric = central_difference(lambda z: cf.log_likelihood_dense(z, Y, beta), Z)
    scale = np.abs(numeric).max()
    np.testing.assert_allclose(cf.grad_Z_dense(Z, Y, beta), numeric, atol=1e-6 * scale)


@pytest.mark.parametrize("shape", SHAPES)
def test_eq3_chained_through_dK_gives_eq4(shape):
    Z, Y = random_problem(*shape, seed=2)
    np.testing.assert_allclose(
        cf.chain_through_K(cf.grad_K(Z, Y, 1.0), Z), cf.grad_Z_dense(Z, Y, 1.0), rtol=1e-10
    )


def test_eq3_matches_finite_differences_on_symmetric_perturbations():
    # dl = G : dK for symmetric dK; perturb K along E_ij + E_ji so that it stays a covariance.
    Z, Y = random_problem(7, 4, 2, seed=3)
    K = cf.kernel_matrix(Z, 2.0)

    def ll_of_K(K):
        L = np.linalg.cholesky(K)
        A = np.linalg.solve(L, Y)
        return -Y.shape[1] * np.sum(np.log(np.diag(L))) - 0.5 * np.sum(A**2)

    G = cf.grad_K(Z, Y, 2.0)
    h = 1e-6
    for i, j in [(0, 0), (3, 1), (6, 5)]:
        dK = np.zeros_like(K)
        dK[i, j] += h
        dK[j, i] += h if i != j else 0.0
        numeric = (ll_of_K(K + dK) - ll_of_K(K - dK)) / (2 * h)
        np.testing.assert_allclose(np.sum(G * dK) / h, numeric, rtol=1e-6)


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_a_missing_factor_is_wrong(factor):
    """The seed's question: eq. 4 has no missing 1/2 or 2. Either variant disagrees with the truth."""
    Z, Y = random_problem(6, 5, 2, seed=4)
    numeric = central_difference(lambda z: cf.log_likelihood_dense(z, Y, 1.0), Z)
    wrong = factor * cf.grad_Z_dense(Z, Y, 1.0)
    assert np.abs(wrong - numeric).max() > 0.1 * np.abs(numeric).max()


@pytest.mark.parametrize("prior_scale", [None, 0.5, 3.0])
@pytest.mark.parametrize("beta", BETAS)
def test_analytic_optimum_is_stationary_and_beats_perturbations(prior_scale, beta):
    rng = np.random.default_rng(5)
    Y = rng.standard_normal((20, 3)) @ rng.standard_normal((3, 8)) + 0.3 * rng.standard_normal((20, 8))
    Y -= Y.mean(axis=0)
    opt = analytic.analytic_optimum(Y, 2, beta, prior_scale)
    prior_grad = 0.0 if prior_scale is None else opt.Z / prior_scale**2
    stationarity = cf.grad_Z(opt.Z, Y, beta) - prior_grad
    assert np.abs(stationarity).max() < 1e-8 * max(1.0, np.abs(cf.grad_Z(opt.Z, Y, beta)).max())

    def objective(Z):
        return (
            cf.log_likelihood_dense(Z, Y, beta)
            if prior_scale is None
            else cf.log_posterior(Z, Y, beta, prior_scale)
        )

    best = objective(opt.Z)
    for _ in range(20):
        assert objective(opt.Z + 1e-3 * rng.standard_normal(opt.Z.shape)) < best


def test_analytic_optimum_without_prior_matches_eigenvalues():
    rng = np.random.default_rng(6)
    Y = rng.standard_normal((30, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    Y -= Y.mean(axis=0)
    beta = 4.0
    opt = analytic.analytic_optimum(Y, 3, beta)
    lam = np.sort(np.linalg.eigvalsh(Y @ Y.T / Y.shape[1]))[::-1][:3]
    np.testing.assert_allclose(opt.eigenvalues, lam, rtol=1e-10)
    np.testing.assert_allclose(
        np.linalg.eigvalsh(opt.Z.T @ opt.Z)[::-1], np.maximum(lam - 1 / beta, 0), rtol=1e-10
    )


def test_log_density_is_rotation_invariant():
    Z, Y = random_problem(10, 4, 3, seed=7)
    R, _ = np.linalg.qr(np.random.default_rng(8).standard_normal((3, 3)))
    np.testing.assert_allclose(
        cf.log_posterior(Z @ R, Y, 2.0, 1.5), cf.log_posterior(Z, Y, 2.0, 1.5), rtol=1e-12
    )


def test_gram_relative_error_matches_dense_and_ignores_rotation():
    Z, _ = random_problem(12, 1, 3, seed=9)
    Z_ref = Z + 0.05 * np.random.default_rng(10).standard_normal(Z.shape)
    dense = np.linalg.norm(Z @ Z.T - Z_ref @ Z_ref.T) / np.linalg.norm(Z_ref @ Z_ref.T)
    np.testing.assert_allclose(analytic.gram_relative_error(Z, Z_ref), dense, rtol=1e-10)
    R, _ = np.linalg.qr(np.random.default_rng(11).standard_normal((3, 3)))
    assert analytic.gram_relative_error(Z @ R, Z) < 1e-14


@pytest.mark.parametrize("shape", [(500, 8), (6, 9), (40, 3)])
def test_top_singular_from_the_gram_matrix_equals_the_thin_svd(monkeypatch, shape):
    """Large Y goes through the D x D Gram matrix; it must give the thin SVD's top factors."""
    rng = np.random.default_rng(12)
    Y = rng.standard_normal(shape) * np.linspace(3.0, 0.5, shape[1])
    svd_U, svd_s = analytic.top_singular(Y, 4)
    monkeypatch.setattr(analytic, "SVD_MAX_BYTES", 0)
    gram_U, gram_s = analytic.top_singular(Y, 4)
    np.testing.assert_allclose(gram_s, svd_s, rtol=1e-10)
    top = min(4, *shape)
    signs = np.sign(np.sum(gram_U[:, :top] * svd_U[:, :top], axis=0))
    np.testing.assert_allclose(gram_U[:, :top] * signs, svd_U[:, :top], atol=1e-9)
    assert np.all(gram_U[:, top:] == 0) and np.all(gram_s[top:] == 0)
