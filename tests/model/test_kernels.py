"""Kernels: PyTensor's gradients equal eq. 3 chained through dK/dtheta, and finite differences.

This generalises the seed's answer: for any kernel, dl/dtheta = (dl/dK) : (dK/dtheta) with the
Frobenius product, computed here independently in NumPy by each kernel's derivatives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gplvm.model import reference as ref
from gplvm.model.forms.dense import dense_log_likelihood_from_K
from gplvm.model.forms.woodbury import woodbury_log_likelihood
from gplvm.model.kernels import KERNELS, make_kernel
from gplvm.model.kernels.linear import Linear
from gplvm.model.kernels.matern52 import Matern52
from gplvm.model.kernels.rbf import RBF
from tests.helpers import TEST_MODE, central_difference, random_problem
from tests.model.derivatives import grad_hyper, grad_Z

STATIONARY = {
    "rbf": (RBF, 1.3),
    "rbf_ard": (RBF, np.array([0.7, 1.9, 1.1])),
    "matern52": (Matern52, 1.3),
    "matern52_ard": (Matern52, np.array([0.7, 1.9, 1.1])),
}
JITTER = 1e-3  # large enough that its share of d/dvariance and d/dbias is tested


@pytest.fixture(scope="module", params=sorted(STATIONARY))
def stationary_case(request):
    """Compiled l(Z, variance, lengthscale, bias, beta) and its gradients for one kernel."""
    cls, ell = STATIONARY[request.param]
    kernel = cls(ard=np.ndim(ell) > 0, jitter=JITTER)
    Z, Y = pt.matrix("Z"), pt.matrix("Y")
    variance, bias, beta = pt.scalar("variance"), pt.scalar("bias"), pt.scalar("beta")
    lengthscale = pt.vector("lengthscale") if kernel.ard else pt.scalar("lengthscale")
    hyper = {"beta": beta, "variance": variance, "lengthscale": lengthscale, "bias": bias}
    ll = dense_log_likelihood_from_K(kernel.K(Z, hyper), Y)
    inputs = [Z, variance, lengthscale, bias, beta]
    fn = pytensor.function([*inputs, Y], [ll, *pytensor.grad(ll, inputs)], mode=TEST_MODE)
    return kernel, ell, fn


def _hyper(ell, **values) -> dict:
    return {"beta": 3.0, "variance": 1.7, "lengthscale": ell, "bias": 0.3, **values}


@pytest.mark.parametrize("name", sorted(STATIONARY))
def test_pytensor_kernel_matches_numpy(name):
    cls, ell = STATIONARY[name]
    kernel = cls(ard=np.ndim(ell) > 0, jitter=JITTER)
    Z, _ = random_problem(9, 1, 3, seed=0)
    Zs, _ = random_problem(4, 1, 3, seed=1)
    hyper = _hyper(ell)
    fn = pytensor.function([], [kernel.K(Z, hyper), kernel.cross(Zs, Z, hyper)], mode=TEST_MODE)
    K, cross = fn()
    np.testing.assert_allclose(K, kernel.K_np(Z, hyper), rtol=1e-12)
    np.testing.assert_allclose(cross, kernel.cross_np(Zs, Z, hyper), rtol=1e-12)
    np.testing.assert_allclose(np.diag(kernel.covariance_np(Z, hyper)), kernel.diag_np(Z, hyper), rtol=1e-12)


def test_matern52_and_rbf_profiles_have_their_closed_forms():
    """k at distance r (one dim, length scale 1).

    Matérn 5/2: (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r); rbf: exp(-r^2 / 2).
    """
    Z = np.array([[0.0], [0.5], [2.0]])
    hyper = {"beta": 1.0, "variance": 2.0, "lengthscale": 1.0, "bias": 0.0}
    r = np.abs(Z - Z.T)
    s5 = np.sqrt(5.0)
    matern = 2.0 * (1 + s5 * r + 5 * r**2 / 3) * np.exp(-s5 * r)
    np.testing.assert_allclose(Matern52().covariance_np(Z, hyper), matern, rtol=1e-14)
    np.testing.assert_allclose(RBF().covariance_np(Z, hyper), 2.0 * np.exp(-(r**2) / 2), rtol=1e-14)


@pytest.mark.parametrize(("shape", "beta"), [((8, 5, 3), 4.0), ((12, 3, 3), 0.5), ((6, 9, 3), 30.0)])
def test_stationary_gradients_equal_eq3_chained_through_dK(stationary_case, shape, beta):
    kernel, ell, fn = stationary_case
    Z, Y = random_problem(*shape, seed=1)
    hyper = _hyper(ell, beta=beta)
    value, gZ, g_var, g_ell, g_bias, g_beta = fn(Z, 1.7, ell, 0.3, beta, Y)
    K = kernel.K_np(Z, hyper)
    G = ref.dl_dK(K, Y)
    expected = grad_hyper(kernel, G, Z, hyper)
    np.testing.assert_allclose(value, ref.log_likelihood_from_K(K, Y), rtol=1e-10)
    np.testing.assert_allclose(gZ, grad_Z(kernel, G, Z, hyper), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(g_var, expected["variance"], rtol=1e-8)
    np.testing.assert_allclose(g_ell, expected["lengthscale"], rtol=1e-8)
    np.testing.assert_allclose(g_bias, expected["bias"], rtol=1e-8)
    np.testing.assert_allclose(g_beta, expected["beta"], rtol=1e-8)
    # Without the 1/2 of eq. 3 the chained gradient is twice too large.
    assert not np.allclose(gZ, grad_Z(kernel, 2 * G, Z, hyper), rtol=1e-3)


@pytest.mark.parametrize("name", sorted(STATIONARY))
def test_chained_gradients_match_finite_differences(name):
    cls, ell = STATIONARY[name]
    kernel = cls(ard=np.ndim(ell) > 0, jitter=JITTER)
    Z, Y = random_problem(7, 4, 3, seed=2)
    base = _hyper(ell)

    def ll(Z=Z, **changes):
        return ref.log_likelihood_from_K(kernel.K_np(Z, {**base, **changes}), Y)

    G = ref.dl_dK(kernel.K_np(Z, base), Y)
    grads = grad_hyper(kernel, G, Z, base)
    h = 1e-6
    np.testing.assert_allclose(
        grad_Z(kernel, G, Z, base), central_difference(lambda z: ll(Z=z), Z), rtol=1e-6, atol=1e-8
    )
    for p in ("variance", "bias", "beta"):
        numeric = (ll(**{p: base[p] + h}) - ll(**{p: base[p] - h})) / (2 * h)
        np.testing.assert_allclose(grads[p], numeric, rtol=1e-6, err_msg=p)
    ell_grad = np.atleast_1d(grads["lengthscale"])
    for q in range(ell_grad.size):
        step = np.eye(ell_grad.size)[q] * h if kernel.ard else h
        numeric = (ll(lengthscale=ell + step) - ll(lengthscale=ell - step)) / (2 * h)
        np.testing.assert_allclose(ell_grad[q], numeric, rtol=1e-6)


def test_matern_gradient_is_finite_with_duplicate_latent_points():
    """sqrt(r^2) has an infinite slope at 0; duplicates (and the diagonal) must not give NaN."""
    kernel = Matern52(jitter=1e-6)
    Z_in, Y_in = pt.matrix("Z"), pt.matrix("Y")
    hyper = {"beta": 10.0, "variance": 1.0, "lengthscale": 1.0, "bias": 0.0}
    ll = dense_log_likelihood_from_K(kernel.K(Z_in, hyper), Y_in)
    fn = pytensor.function([Z_in, Y_in], pytensor.grad(ll, Z_in), mode=TEST_MODE)
    Z, Y = random_problem(6, 3, 2, seed=3)
    Z[1] = Z[0]
    grad = fn(Z, Y)
    assert np.all(np.isfinite(grad))
    G = ref.dl_dK(kernel.K_np(Z, hyper), Y)
    np.testing.assert_allclose(grad, grad_Z(kernel, G, Z, hyper), rtol=1e-7, atol=1e-9)


def test_linear_kernel_through_the_dense_form_equals_woodbury():
    Z_in, Y_in, beta_in = pt.matrix("Z"), pt.matrix("Y"), pt.scalar("beta")
    generic = dense_log_likelihood_from_K(Linear().K(Z_in, {"beta": beta_in}), Y_in)
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
        G = ref.dl_dK(ref.kernel_matrix(Z, beta), Y)
        np.testing.assert_allclose(grad_Z(Linear(), G, Z, {"beta": beta}), g_gen, rtol=1e-8)


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_every_registered_kernel_has_a_preset_and_a_docs_line(name):
    """Adding a kernel is its module, a preset in conf/model/ and a line in docs/model.md."""
    assert (ROOT / "conf" / "model" / f"{name}.yaml").is_file()
    assert f"`model={name}`" in (ROOT / "docs" / "model.md").read_text()


def test_registry_and_capabilities():
    assert {"linear", "rbf", "matern52"} <= set(KERNELS)
    assert make_kernel("matern52", ard=True).ard and not Linear.supports_ard
    with pytest.raises(ValueError, match="no ARD form"):
        make_kernel("linear", ard=True)
    with pytest.raises(ValueError, match=f"choose one of {', '.join(sorted(KERNELS))}$"):
        make_kernel("periodic")
    assert Linear().relevance({"beta": 1.0}) is None
    np.testing.assert_allclose(
        RBF(ard=True).relevance({"variance": 2.0, "lengthscale": np.array([1.0, 2.0])}), [2.0, 0.5]
    )
    assert Matern52().analytic_optimum(np.zeros((3, 2)), 1, 1.0, 1.0) is None
