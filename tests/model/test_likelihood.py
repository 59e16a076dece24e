"""PyTensor's gradients of eq. 1 equal the closed forms (eqs. 3 and 4) and finite differences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gplvm.model import reference as cf
from gplvm.model.forms import FORMS as REGISTERED_FORMS
from gplvm.model.forms import make_form
from gplvm.model.kernels.linear import Linear
from tests.helpers import central_difference, random_problem

# The exact forms of the linear kernel (the sparse bound has its own tests, test_sparse.py).
FORMS = sorted(
    name for name, cls in REGISTERED_FORMS.items() if cls.supports(Linear()) and not cls.parameter_dims
)
SHAPES = [(6, 9, 2), (12, 3, 1), (15, 4, 3), (8, 8, 5), (40, 64, 2)]  # N < D, N > D, Q = 1, Q >= 3
BETAS = [0.01, 1.0, 100.0]


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("form", FORMS)
def test_value_matches_numpy(value_and_grad, form, shape, beta):
    Z, Y = random_problem(*shape)
    value, _ = value_and_grad[form](Z, Y, beta)
    np.testing.assert_allclose(value, cf.log_likelihood_dense(Z, Y, beta), rtol=1e-10)


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("shape", SHAPES)
def test_woodbury_and_dense_agree(value_and_grad, shape, beta):
    Z, Y = random_problem(*shape, seed=1)
    wood, g_wood = value_and_grad["woodbury"](Z, Y, beta)
    dense, g_dense = value_and_grad["dense"](Z, Y, beta)
    np.testing.assert_allclose(wood, dense, rtol=1e-9)
    np.testing.assert_allclose(g_wood, g_dense, rtol=1e-7, atol=1e-9 * np.abs(g_dense).max())


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("form", FORMS)
def test_gradient_equals_eq4(value_and_grad, form, shape, beta):
    Z, Y = random_problem(*shape, seed=2)
    _, grad = value_and_grad[form](Z, Y, beta)
    expected = cf.grad_Z_dense(Z, Y, beta)
    np.testing.assert_allclose(grad, expected, rtol=1e-8, atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("form", FORMS)
def test_gradient_matches_finite_differences(value_and_grad, form):
    Z, Y = random_problem(7, 5, 2, seed=3)
    _, grad = value_and_grad[form](Z, Y, 0.5)
    numeric = central_difference(lambda z: float(value_and_grad[form](z, Y, 0.5)[0]), Z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7 * np.abs(numeric).max())


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_eq4_with_a_missing_factor_is_rejected(value_and_grad, factor):
    Z, Y = random_problem(9, 4, 2, seed=4)
    _, grad = value_and_grad["woodbury"](Z, Y, 1.0)
    assert not np.allclose(grad, factor * cf.grad_Z_dense(Z, Y, 1.0), rtol=1e-3)


@pytest.mark.parametrize("shape", SHAPES[:4])
def test_gradient_wrt_K_is_eq3_symmetrised(grad_wrt_K, shape):
    """The dense Op's gradient is eq. 3 itself, symmetric (a graph through a Cholesky factor,
    which reads one triangle, gives a triangular G with the same symmetric part). Chained through
    dK = Z dZ^T + dZ Z^T, (G + G^T) Z gives eq. 4."""
    Z, Y = random_problem(*shape, seed=5)
    beta = 3.0
    G = grad_wrt_K(cf.kernel_matrix(Z, beta), Y)
    eq3 = cf.grad_K(Z, Y, beta)
    np.testing.assert_allclose((G + G.T) / 2, eq3, rtol=1e-8, atol=1e-10 * np.abs(eq3).max())
    np.testing.assert_allclose(G, eq3, rtol=1e-8, atol=1e-10 * np.abs(eq3).max())
    np.testing.assert_allclose(cf.chain_through_K(G, Z), cf.grad_Z_dense(Z, Y, beta), rtol=1e-8)
    # Eq. 3 without its 1/2 (as printed in the book) is twice too large.
    assert not np.allclose((G + G.T) / 2, 2 * eq3, rtol=1e-3)


def test_unknown_form_is_rejected():
    with pytest.raises(ValueError, match="woodbury"):
        make_form("cholesky", Linear())


@pytest.mark.parametrize("form", FORMS)
def test_numpy_column_terms_sum_to_the_pytensor_value(value_and_grad, form):
    """Each form's per-column NumPy terms equal eq. 1 for each column alone, and sum to the graph's value."""
    Z, Y = random_problem(11, 6, 2, seed=6)
    columns = make_form(form, Linear()).column_log_likelihoods(Z, Y, {"beta": 2.5})
    np.testing.assert_allclose(columns, cf.column_log_likelihoods_dense(Z, Y, 2.5), rtol=1e-10)
    np.testing.assert_allclose(columns.sum(), value_and_grad[form](Z, Y, 2.5)[0], rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    n_obs=st.integers(2, 14),
    n_features=st.integers(1, 9),
    latent_dim=st.integers(1, 4),
    log10_beta=st.floats(-2, 2),
    seed=st.integers(0, 2**16),
)
def test_property_gradient_equals_eq4(value_and_grad, n_obs, n_features, latent_dim, log10_beta, seed):
    Z, Y = random_problem(n_obs, n_features, latent_dim, seed=seed)
    beta = 10.0**log10_beta
    expected = cf.grad_Z_dense(Z, Y, beta)
    for form in FORMS:
        value, grad = value_and_grad[form](Z, Y, beta)
        np.testing.assert_allclose(value, cf.log_likelihood_dense(Z, Y, beta), rtol=1e-9)
        np.testing.assert_allclose(grad, expected, rtol=1e-7, atol=1e-9 * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("name", sorted(REGISTERED_FORMS))
def test_every_registered_form_has_a_docs_line(name):
    """Adding a form is its module and a line in docs/model.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text()
    assert f"`model.likelihood={name}`" in text


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_the_dense_op_equals_the_cholesky_graph_in_value_and_gradient(backend):
    """gplvm.model.dense_ops (eq. 3 as its gradient) against PyTensor's own differentiation of a
    Cholesky graph, for an rbf K of Z; and a K that does not factorise gives NaN, not an error."""
    import pytensor
    import pytensor.tensor as pt

    from gplvm.inference.base import compile_mode
    from gplvm.model.forms.dense import cholesky_graph_log_likelihood, dense_log_likelihood_from_K
    from gplvm.model.kernels.rbf import RBF

    Z_in, Y_in = pt.matrix("Z"), pt.matrix("Y")
    hyper = {"beta": 4.0, "variance": 1.3, "lengthscale": 0.7, "bias": 0.0}
    K = RBF(jitter=1e-6).K(Z_in, hyper)
    Z, Y = random_problem(30, 5, 2, seed=3)
    outputs = {}
    for name, ll in [
        ("op", dense_log_likelihood_from_K(K, Y_in)),
        ("graph", cholesky_graph_log_likelihood(K, Y_in)),
    ]:
        fn = pytensor.function([Z_in, Y_in], [ll, pytensor.grad(ll, Z_in)], mode=compile_mode(backend))
        outputs[name] = fn(Z, Y)
    np.testing.assert_allclose(outputs["op"][0], outputs["graph"][0], rtol=1e-12)
    np.testing.assert_allclose(outputs["op"][1], outputs["graph"][1], rtol=1e-8, atol=1e-10)
    K_in = pt.matrix("K")
    value = pytensor.function(
        [K_in, Y_in], dense_log_likelihood_from_K(K_in, Y_in), mode=compile_mode("python")
    )
    assert np.isnan(value(-np.eye(3), Y[:3]))
