"""The count model's pieces against plain references: f's moments under q(u) written with an
explicit K_uu^-1, each column's bound, the count and size-factor checks."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest

from gplvm.errors import DataError
from gplvm.model.count_likelihoods import negative_binomial_expected_log_lik_np, poisson_expected_log_lik_np
from gplvm.model.count_model import column_bounds, counts_of, f_moments, size_factors, whiten
from gplvm.model.kernels import make_kernel


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    kernel = make_kernel("rbf", ard=True, jitter=1e-6)
    M, D, N = 6, 4, 30
    hyper = {"beta": 1.0, "variance": 1.3, "lengthscale": np.array([0.8, 1.4]), "bias": 0.0}
    hyper["inducing"] = rng.standard_normal((M, 2))
    Kuu = kernel.covariance_np(hyper["inducing"], hyper) + 1e-6 * np.eye(M)
    q_mean = rng.standard_normal((M, D))
    chol = np.tril(0.3 * rng.standard_normal((M, M)), -1) + np.diag(rng.uniform(0.2, 0.6, M))
    Z = rng.standard_normal((N, 2))
    counts = rng.poisson(3.0, (N, D)).astype(float)
    log_size = 0.3 * rng.standard_normal(N)
    bias = rng.normal(0.5, 0.3, D)
    return kernel, hyper, Kuu, (q_mean, chol), Z, counts, log_size, bias


def _reference_moments(kernel, hyper, Kuu, q_u, Z):
    """f's mean and variance under q(u) with A = K_uu^-1 formed explicitly."""
    A = np.linalg.inv(Kuu)
    Kfu = kernel.cross_np(Z, hyper["inducing"], hyper)
    S = q_u[1] @ q_u[1].T
    mean = Kfu @ A @ q_u[0]
    variance = kernel.diag_np(Z, hyper) - np.einsum("nm,mk,nk->n", Kfu, A, Kfu)
    variance += np.einsum("nm,mk,nk->n", Kfu @ A, S, Kfu @ A)
    return mean, variance


def test_whitened_f_moments_equal_the_explicit_inverse():
    kernel, hyper, Kuu, q_u, Z, *_ = _problem()
    L_K = np.linalg.cholesky(Kuu)
    v_mean, v_chol = whiten(*q_u, L_K)
    Kfu = kernel.cross_np(Z, hyper["inducing"], hyper)
    mean, variance = (
        x.eval() for x in f_moments(pt.as_tensor(Kfu), kernel.diag_np(Z, hyper), v_mean, v_chol, L_K)
    )
    ref_mean, ref_variance = _reference_moments(kernel, hyper, Kuu, q_u, Z)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(variance, ref_variance, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("noise", ["poisson", "negative_binomial"])
def test_column_bounds_are_the_expected_log_likelihood_minus_the_columns_kl(noise):
    kernel, hyper, Kuu, q_u, Z, counts, log_size, bias = _problem(1)
    dispersion = np.array([0.5, 2.0, 8.0, 30.0])
    mean, variance = _reference_moments(kernel, hyper, Kuu, q_u, Z)
    mean, variance = mean + bias, np.broadcast_to(variance[:, None], mean.shape)
    if noise == "poisson":
        cells = poisson_expected_log_lik_np(counts, mean, variance, log_size[:, None])
    else:
        cells = negative_binomial_expected_log_lik_np(counts, mean, variance, log_size[:, None], dispersion)
    A, (m, C) = np.linalg.inv(Kuu), q_u
    S, M = C @ C.T, len(Kuu)
    kl = 0.5 * (
        np.trace(A @ S)
        + np.einsum("md,mk,kd->d", m, A, m)
        - M
        + np.linalg.slogdet(Kuu)[1]
        - np.linalg.slogdet(S)[1]
    )
    expected = cells.sum(axis=0) - kl
    got = column_bounds(Z, counts, log_size, kernel, hyper, Kuu, q_u, bias, noise, dispersion, chunk=7)
    np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_counts_must_be_non_negative_integers():
    names = ["g0", "g1"]
    np.testing.assert_array_equal(counts_of(np.array([[0.0, 3.0 + 1e-12]]), names, "poisson"), [[0.0, 3.0]])
    with pytest.raises(DataError, match=r"column 'g1' has -2 at row 0 \(1 such cells\)"):
        counts_of(np.array([[0.0, -2.0], [1.0, 1.0]]), names, "poisson")
    with pytest.raises(DataError, match=r"model.noise=negative_binomial needs non-negative integer counts"):
        counts_of(np.array([[0.5, 2.0]]), names, "negative_binomial")


def test_size_factors_are_totals_over_the_median_and_refuse_an_empty_row():
    np.testing.assert_allclose(size_factors(np.array([[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]])), [0.5, 1.0, 2.0])
    with pytest.raises(DataError, match=r"row 1 \(counting from 0\) has no counts"):
        size_factors(np.array([[1.0, 1.0], [0.0, 0.0]]))
