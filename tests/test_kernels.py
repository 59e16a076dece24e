"""Kernels beyond the linear one: PyTensor's gradients equal eq. 3 chained through dK/dtheta.

This generalises the seed's answer: for any kernel, dl/dtheta = (dl/dK) : (dK/dtheta) with the
Frobenius product, computed here independently in NumPy.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gplvm import closed_form as cf
from gplvm import kernels
from gplvm.likelihood import dense_log_likelihood_from_K, woodbury_log_likelihood
from tests.helpers import TEST_MODE, central_difference, random_problem

LENGTHSCALES = {"rbf": 1.3, "ard": np.array([0.7, 1.9, 1.1])}


@pytest.fixture(scope="module", params=sorted(LENGTHSCALES))
def rbf_case(request):
    """Compiled l(Z, variance, lengthscale, bias, beta) and its gradients, for rbf or ARD rbf."""
    ard = request.param == "ard"
    Z, Y = pt.matrix("Z"), pt.matrix("Y")
    variance, bias, beta = pt.scalar("variance"), pt.scalar("bias"), pt.scalar("beta")
    lengthscale = pt.vector("lengthscale") if ard else pt.scalar("lengthscale")
    hyper = {"beta": beta, "variance": variance, "lengthscale": lengthscale, "bias": bias}
    ll = dense_log_likelihood_from_K(kernels.covariance(Z, "rbf", hyper, jitter=0.0), Y)
    inputs = [Z, variance, lengthscale, bias, beta]
    fn = pytensor.function([*inputs, Y], [ll, *pytensor.grad(ll, inputs)], mode=TEST_MODE)
    return request.param, fn


@pytest.mark.parametrize("lengthscale", [1.3, np.array([0.7, 1.9, 1.1])])
def test_rbf_matches_numpy(lengthscale):
    Z, _ = random_problem(9, 1, 3, seed=0)
    fn = pytensor.function([], kernels.rbf(Z, 2.0, lengthscale, 0.5), mode=TEST_MODE)
    np.testing.assert_allclose(fn(), kernels.rbf_np(Z, 2.0, lengthscale, 0.5), rtol=1e-12)


@pytest.mark.parametrize(("shape", "beta"), [((8, 5, 3), 4.0), ((12, 3, 3), 0.5), ((6, 9, 3), 30.0)])
def test_rbf_gradients_equal_eq3_chained_through_dK(rbf_case, shape, beta):
    name, fn = rbf_case
    Z, Y = random_problem(*shape, seed=1)
    ell, variance, bias = LENGTHSCALES[name], 1.7, 0.3
    value, gZ, g_var, g_ell, g_bias, g_beta = fn(Z, variance, ell, bias, beta, Y)
    K = kernels.rbf_np(Z, variance, ell, bias) + np.eye(len(Z)) / beta
    G = cf.dl_dK(K, Y)
    hyper = kernels.rbf_grad_hyper(G, Z, variance, ell)
    np.testing.assert_allclose(value, cf.log_likelihood_from_K(K, Y), rtol=1e-10)
    np.testing.assert_allclose(gZ, kernels.rbf_grad_Z(G, Z, variance, ell), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(g_var, hyper["variance"], rtol=1e-8)
    np.testing.assert_allclose(g_ell, hyper["lengthscale"], rtol=1e-8)
    np.testing.assert_allclose(g_bias, hyper["bias"], rtol=1e-8)
    np.testing.assert_allclose(g_beta, kernels.noise_grad_beta(G, beta), rtol=1e-8)
    # Without the 1/2 of eq. 3 the chained gradient is twice too large.
    assert not np.allclose(gZ, kernels.rbf_grad_Z(2 * G, Z, variance, ell), rtol=1e-3)


def test_rbf_chained_gradients_match_finite_differences():
    Z, Y = random_problem(7, 4, 2, seed=2)
    ell, variance, bias, beta = np.array([0.8, 1.5]), 1.2, 0.2, 3.0

    def ll(Z=Z, variance=variance, ell=ell, bias=bias, beta=beta):
        return cf.log_likelihood_from_K(kernels.rbf_np(Z, variance, ell, bias) + np.eye(len(Z)) / beta, Y)

    G = cf.dl_dK(kernels.rbf_np(Z, variance, ell, bias) + np.eye(len(Z)) / beta, Y)
    hyper = kernels.rbf_grad_hyper(G, Z, variance, ell)
    h = 1e-6
    np.testing.assert_allclose(
        kernels.rbf_grad_Z(G, Z, variance, ell),
        central_difference(lambda z: ll(Z=z), Z),
        rtol=1e-6,
        atol=1e-8,
    )
    np.testing.assert_allclose(
        hyper["variance"], (ll(variance=variance + h) - ll(variance=variance - h)) / (2 * h), rtol=1e-6
    )
    np.testing.assert_allclose(hyper["bias"], (ll(bias=bias + h) - ll(bias=bias - h)) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(
        kernels.noise_grad_beta(G, beta), (ll(beta=beta + h) - ll(beta=beta - h)) / (2 * h), rtol=1e-6
    )
    for q in range(2):
        step = np.eye(2)[q] * h
        numeric = (ll(ell=ell + step) - ll(ell=ell - step)) / (2 * h)
        np.testing.assert_allclose(hyper["lengthscale"][q], numeric, rtol=1e-6)


def test_linear_kernel_through_the_generic_path_equals_woodbury():
    Z_in, Y_in, beta_in = pt.matrix("Z"), pt.matrix("Y"), pt.scalar("beta")
    generic = dense_log_likelihood_from_K(kernels.covariance(Z_in, "linear", {"beta": beta_in}, 0.0), Y_in)
    wood = woodbury_log_likelihood(Z_in, Y_in, beta_in)
    fn = pytensor.function(
        [Z_in, Y_in, beta_in],
        [generic, wood, pytensor.grad(generic, Z_in), pytensor.grad(wood, Z_in)],
        mode=TEST_MODE,
    )
    for shape, beta in [((10, 4, 2), 2.0), ((6, 8, 3), 0.1)]:
        Z, Y = random_problem(*shape, seed=3)
        v_gen, v_wood, g_gen, g_wood = fn(Z, Y, beta)
        np.testing.assert_allclose(v_gen, v_wood, rtol=1e-10)
        np.testing.assert_allclose(g_gen, g_wood, rtol=1e-8, atol=1e-10)
