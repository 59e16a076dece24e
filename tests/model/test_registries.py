"""Shared tests that every registered kernel and likelihood form passes (as GPyTorch's
``BaseKernelTestCase``): a new kernel or form is tested here without a line of test code.

References are independent of the code under test: NumPy and SciPy densities, central finite
differences, and the dense form's exact eq. 1.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.stats import multivariate_normal

from gplvm.model.expectations import expectations_of, has_psi_statistics
from gplvm.model.forms import FORMS, make_form
from gplvm.model.kernels import KERNELS, make_kernel
from tests.helpers import TEST_MODE, central_difference
from tests.model.derivatives import grad_Z, has_derivatives

JITTER = 1e-4
KERNEL_CASES = [
    (name, ard)
    for name, cls in sorted(KERNELS.items())
    for ard in (False, True)
    if not ard or cls.supports_ard
]
FORM_CASES = [
    (form, kernel)
    for form, cls in sorted(FORMS.items())
    for kernel in sorted(KERNELS)
    if cls.supports(KERNELS[kernel]())
]


def _hyper(kernel, latent_dim: int) -> dict:
    values = {"beta": 4.0, "variance": 1.6, "lengthscale": 1.3, "bias": 0.2}
    if kernel.ard:
        values["lengthscale"] = np.linspace(0.8, 1.7, latent_dim)
    # float64 arrays: PyTensor would hold a Python float that float32 represents exactly (4.0) as a
    # float32 constant, as a model never does.
    return {name: np.asarray(values[name], dtype=float) for name in ("beta", *kernel.hyperparameters)}


def _problem(n_obs=7, n_features=3, latent_dim=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_obs, latent_dim)), rng.normal(size=(n_obs, n_features))


def _numpy_log_likelihood(kernel, Z, Y, hyper) -> float:
    K = kernel.K_np(Z, hyper)
    return float(sum(multivariate_normal(np.zeros(len(Z)), K).logpdf(y) for y in Y.T))


@pytest.mark.parametrize(("name", "ard"), KERNEL_CASES)
def test_kernel_graph_equals_its_numpy_version(name, ard):
    kernel = make_kernel(name, ard=ard, jitter=JITTER)
    Z, _ = _problem()
    Z_other, _ = _problem(n_obs=4, seed=1)
    hyper = _hyper(kernel, Z.shape[1])
    K, cross, diag = pytensor.function(
        [], [kernel.K(Z, hyper), kernel.cross(Z_other, Z, hyper), kernel.diagonal(Z, hyper)], mode=TEST_MODE
    )()
    np.testing.assert_allclose(K, kernel.K_np(Z, hyper), rtol=1e-12)
    np.testing.assert_allclose(cross, kernel.cross_np(Z_other, Z, hyper), rtol=1e-12)
    np.testing.assert_allclose(diag, np.diag(kernel.covariance_np(Z, hyper)), rtol=1e-12)
    np.testing.assert_allclose(K, K.T, rtol=0, atol=1e-14)
    assert np.linalg.eigvalsh(K)[0] > 0
    assert (kernel.relevance(hyper) is not None) == ard


@pytest.mark.parametrize(("name", "ard"), KERNEL_CASES)
def test_kernel_gradient_in_Z_matches_finite_differences_of_the_numpy_density(name, ard):
    kernel = make_kernel(name, ard=ard, jitter=JITTER)
    Z0, Y = _problem()
    hyper = _hyper(kernel, Z0.shape[1])
    Z = pt.matrix("Z")
    ll = make_form("dense", kernel).log_likelihood(Z, Y, hyper)
    value, grad = pytensor.function([Z], [ll, pytensor.grad(ll, Z)], mode=TEST_MODE)(Z0)
    assert value == pytest.approx(_numpy_log_likelihood(kernel, Z0, Y, hyper), rel=1e-10)
    expected = central_difference(lambda z: _numpy_log_likelihood(kernel, z, Y, hyper), Z0)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)
    if has_derivatives(kernel):  # eq. 3 chained through the kernel's own derivative
        K_inv = np.linalg.inv(kernel.K_np(Z0, hyper))
        G = 0.5 * (K_inv @ Y @ Y.T @ K_inv - Y.shape[1] * K_inv)
        np.testing.assert_allclose(grad, grad_Z(kernel, G, Z0, hyper), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", [n for n, cls in sorted(KERNELS.items()) if has_psi_statistics(cls)])
def test_psi_statistics_with_zero_variance_are_the_kernel_matrices(name):
    kernel = make_kernel(name, jitter=JITTER)
    Z, _ = _problem()
    U, _ = _problem(n_obs=4, seed=2)
    hyper = _hyper(kernel, Z.shape[1])
    psi = expectations_of(kernel).psi_statistics(Z, np.full(Z.shape, 1e-300), U, hyper)
    psi0, Psi1, Psi2 = (x.eval(mode=TEST_MODE) for x in psi)
    K_nu = kernel.cross_np(Z, U, hyper)
    assert psi0 == pytest.approx(np.trace(kernel.covariance_np(Z, hyper)), rel=1e-10)
    np.testing.assert_allclose(Psi1, K_nu, rtol=1e-10)
    np.testing.assert_allclose(Psi2, K_nu.T @ K_nu, rtol=1e-10)


def _form(form_name: str, kernel_name: str, Z: np.ndarray):
    # Little jitter: the sparse bound with U = Z then reaches eq. 1 to about 1e-8.
    form = make_form(form_name, make_kernel(kernel_name, jitter=1e-10))
    hyper = _hyper(form.kernel, Z.shape[1])
    hyper |= form.initial_parameters(Z, seed=0)
    return form, hyper


@pytest.mark.parametrize(("form_name", "kernel_name"), FORM_CASES)
def test_form_columns_sum_to_its_graph_and_never_exceed_the_exact_density(form_name, kernel_name):
    Z, Y = _problem()
    form, hyper = _form(form_name, kernel_name, Z)
    graph = form.log_likelihood(Z, Y, hyper).eval(mode=TEST_MODE)
    columns = form.column_log_likelihoods(Z, Y, hyper)
    assert columns.shape == (Y.shape[1],)
    # 1e-8: with U = Z the linear kernel's K_uu has rank Q, so its jitter sets a condition number
    # near 1e10 (the other cases agree to 1e-12).
    assert float(np.sum(columns)) == pytest.approx(float(graph), rel=1e-8)
    exact = _numpy_log_likelihood(form.kernel, Z, Y, hyper)
    # Exact forms equal eq. 1; a bound is below it, and reaches it when its inducing inputs are Z.
    assert float(graph) <= exact + 1e-8 * abs(exact)
    if form.inducing_count(len(Z)) == len(Z) or not form.parameters:
        assert float(graph) == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize(("form_name", "kernel_name"), FORM_CASES)
def test_form_gradient_in_Z_matches_finite_differences(form_name, kernel_name):
    Z0, Y = _problem()
    form, hyper = _form(form_name, kernel_name, Z0)
    Z = pt.matrix("Z")
    ll = form.log_likelihood(Z, Y, hyper)
    grad = pytensor.function([Z], pytensor.grad(ll, Z), mode=TEST_MODE)(Z0)
    expected = central_difference(lambda z: form.log_likelihood_np(z, Y, hyper), Z0)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("form_name", "kernel_name"), FORM_CASES)
def test_form_predicts_the_training_rows_within_the_noise(form_name, kernel_name):
    Z, Y = _problem()
    form, hyper = _form(form_name, kernel_name, Z)
    mean, var = form.predict(Z, Z, Y, hyper)
    assert mean.shape == Y.shape and np.all(var >= form.kernel.noise_variance(hyper) * (1 - 1e-9))
    # The posterior mean of f at the training points shrinks Y towards 0, never past it.
    assert np.sum(mean * Y) > 0 and np.sum(mean**2) < np.sum(Y**2)
