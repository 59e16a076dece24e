"""The sparse (inducing-point) bound and the Bayesian GPLVM's bound, against independent references.

References: the dense Gaussian log density (SciPy), Titsias's bound written with N x N matrices,
Monte Carlo expectations of the kernel under q, and finite differences of the compiled objective.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.stats import multivariate_normal

from gplvm.model.expectations import expectations_of
from gplvm.model.forms.dense import Dense
from gplvm.model.forms.sparse import Sparse
from gplvm.model.kernels.linear import Linear
from gplvm.model.kernels.matern52 import Matern52
from gplvm.model.kernels.rbf import RBF
from gplvm.model.variational_bound import (
    expected_log_likelihood,
    gaussian_kl,
)
from tests.helpers import TEST_MODE, random_problem

HYPER = {"beta": 3.0, "variance": 1.3, "lengthscale": np.array([0.8, 1.4]), "bias": 0.2}
KERNELS = {
    "rbf_ard": (RBF(ard=True, jitter=1e-12), HYPER),
    "rbf": (RBF(jitter=1e-12), {**HYPER, "lengthscale": 0.9}),
    "matern52": (Matern52(ard=True, jitter=1e-12), HYPER),
}


def titsias_columns(kernel, Z, U, Y, hyper) -> np.ndarray:
    """Per column: log N(y_d | 0, Q_nn + noise I) - tr(K_nn - Q_nn) / (2 noise), with N x N matrices."""
    K_nn = kernel.covariance_np(Z, hyper)
    K_uu = kernel.covariance_np(U, hyper)
    K_uu += kernel.jitter * np.mean(np.diag(K_uu)) * np.eye(len(U))
    K_nu = kernel.cross_np(Z, U, hyper)
    Q_nn = K_nu @ np.linalg.solve(K_uu, K_nu.T)
    noise = kernel.noise_variance(hyper)
    cov = Q_nn + noise * np.eye(len(Z))
    gaussian = np.array([multivariate_normal(cov=cov).logpdf(y) for y in Y.T])
    return gaussian - np.trace(K_nn - Q_nn) / (2 * noise)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_bound_matches_titsias_with_dense_matrices(name):
    kernel, hyper = KERNELS[name]
    Z, Y = random_problem(15, 4, 2, seed=1)
    U = Z[::3] + 0.1
    hyper = {**hyper, "inducing": U}
    expected = titsias_columns(kernel, Z, U, Y, hyper)
    form = Sparse(kernel)
    np.testing.assert_allclose(form.column_log_likelihoods(Z, Y, hyper), expected, rtol=1e-9)
    graph = form.log_likelihood(Z, Y, hyper).eval(mode=TEST_MODE)
    np.testing.assert_allclose(graph, expected.sum(), rtol=1e-9)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_bound_is_below_the_dense_likelihood_and_reaches_it_at_u_equal_z(name):
    kernel, hyper = KERNELS[name]
    Z, Y = random_problem(12, 3, 2, seed=2)
    Z *= 2.0  # spread out: K_zz well conditioned, so U = Z needs no jitter to speak of
    exact = Dense(kernel).log_likelihood_np(Z, Y, hyper)
    form = Sparse(kernel)
    for m in (2, 5, 9):
        assert form.log_likelihood_np(Z, Y, {**hyper, "inducing": Z[:m] + 0.05}) < exact
    np.testing.assert_allclose(form.log_likelihood_np(Z, Y, {**hyper, "inducing": Z}), exact, rtol=1e-9)


def test_sparse_predictive_variance_at_u_equal_z_is_the_dense_one():
    kernel, hyper = KERNELS["rbf_ard"]
    Z, _ = random_problem(12, 3, 2, seed=3)
    Z *= 2.0
    grid = np.random.default_rng(0).uniform(-3, 3, size=(50, 2))
    dense = kernel.predictive_variance(grid, Z, hyper)
    sparse = Sparse(kernel).predictive_variance(grid, Z, {**hyper, "inducing": Z})
    np.testing.assert_allclose(sparse, dense, rtol=1e-6, atol=1e-9)


PSI_CASES = {
    "rbf_ard_bias": (RBF(ard=True), HYPER),
    "rbf_iso": (RBF(), {**HYPER, "lengthscale": 0.7, "bias": 0.0}),
    "linear": (Linear(), {"beta": 1.0}),
}


@pytest.mark.parametrize("name", sorted(PSI_CASES))
def test_psi_statistics_equal_monte_carlo_expectations(name, seed, margin):
    """Each Monte Carlo mean is within 5 standard errors of its closed form (a false alarm has odds
    of about 6e-7 per entry). Worst over seeds 0-9: 2.8 standard errors (rbf, Psi1)."""
    kernel, hyper = PSI_CASES[name]
    rng = np.random.default_rng(seed)
    n_obs, n_inducing, latent_dim, samples = 6, 4, 2, 40_000
    mean = rng.normal(size=(n_obs, latent_dim))
    variance = rng.uniform(0.05, 0.6, size=(n_obs, latent_dim))
    U = rng.normal(size=(n_inducing, latent_dim))
    psi0, Psi1, Psi2 = (
        t.eval(mode=TEST_MODE) for t in expectations_of(kernel).psi_statistics(mean, variance, U, hyper)
    )

    Z = mean + np.sqrt(variance) * rng.standard_normal((samples, n_obs, latent_dim))
    k0 = np.array([kernel.diag_np(z, hyper).sum() for z in Z])
    k1 = np.stack([kernel.cross_np(z, U, hyper) for z in Z])  # (S, N, M)
    k2 = np.einsum("snm,snk->smk", k1, k1)
    for label, exact, draws in (("psi0", psi0, k0), ("Psi1", Psi1, k1), ("Psi2", Psi2, k2)):
        se = draws.std(axis=0) / np.sqrt(samples)
        z = np.abs(draws.mean(axis=0) - exact) / (se + 1e-12)
        margin(f"{label}: largest |MC mean - exact| / se", z.max(), below=5)


@pytest.mark.parametrize("name", ["rbf_ard", "rbf"])
def test_bayesian_bound_tends_to_the_sparse_bound_as_the_variance_vanishes(name):
    kernel, hyper = KERNELS[name]
    Z, Y = random_problem(10, 3, 2, seed=5)
    hyper = {**hyper, "inducing": Z[:4] + 0.1}
    form = Sparse(kernel)
    point = form.log_likelihood_np(Z, Y, hyper)
    for S, rtol in ((1e-6, 1e-4), (1e-9, 1e-7)):
        variance = np.full_like(Z, S)
        expected = expected_log_likelihood(form, Z, variance, Y, hyper).eval(mode=TEST_MODE)
        np.testing.assert_allclose(expected, point, rtol=rtol)
    # the KL term itself, per entry, against its closed form
    mean, variance = Z, np.full_like(Z, 0.3)
    kl = gaussian_kl(mean, variance, 2.0).eval(mode=TEST_MODE)
    expected_kl = np.sum(0.5 * (variance / 4 + mean**2 / 4 - 1 - np.log(variance / 4)))
    np.testing.assert_allclose(kl, expected_kl, rtol=1e-12)


def _objective_gradient_check(model, start, rng, atol):
    """Compare the compiled gradient of the fit objective with central differences of its value."""
    from gplvm.inference.map import _Objective

    objective = _Objective(model, "python")
    x0 = objective.flatten(start)
    x0 = x0 + 0.05 * rng.standard_normal(x0.size)  # off the start, where gradients are generic
    _, grad = objective(x0)
    h = 1e-6
    numeric = np.array(
        [(objective(x0 + h * e)[0] - objective(x0 - h * e)[0]) / (2 * h) for e in np.eye(x0.size)]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=atol)
    return objective, x0


@pytest.fixture(scope="module")
def small_spec_and_data():
    from gplvm.config import load_config
    from gplvm.data.loading import load_dataset
    from gplvm.model.spec import ModelSpec

    cfg = load_config(
        "dataset=curve",
        "dataset.n_obs=12",
        "dataset.n_features=3",
        "model=rbf_ard",
        "model.learn.bias=true",
        "model.bias=0.1",
        "model.likelihood=sparse",
        "model.num_inducing=4",
    )
    return ModelSpec.from_config(cfg.model), load_dataset(cfg.dataset)


def test_sparse_map_objective_gradient_matches_finite_differences(small_spec_and_data):
    from gplvm.config import Init
    from gplvm.inference.base import starting_point
    from gplvm.model.pymc_model import build_model

    spec, data = small_spec_and_data
    start = starting_point(data, spec, Init.pca, seed=0)
    assert set(start) == {"Z", "beta", "variance", "lengthscale", "bias", "inducing"}
    _objective_gradient_check(build_model(data, spec), start, np.random.default_rng(6), atol=1e-5)


def test_variational_objective_gradient_matches_finite_differences(small_spec_and_data):
    from gplvm.config import Init
    from gplvm.inference.base import starting_point
    from gplvm.model.pymc_model import build_variational_model

    spec, data = small_spec_and_data
    start = starting_point(data, spec, Init.pca, seed=0)
    start["Z_mean"] = start.pop("Z")
    start["Z_var"] = np.full_like(start["Z_mean"], 0.2)
    model = build_variational_model(data, spec)
    objective, x0 = _objective_gradient_check(model, start, np.random.default_rng(7), atol=1e-5)
    # The objective is minus (the bound under q - KL + log priors of the hyperparameters).
    from gplvm.model.spec import prior_log_density

    point = objective.point(x0)
    hyper = {**spec.configured, **{k: point[k] for k in (*spec.learned, "inducing")}}
    bound = expected_log_likelihood(spec.form, point["Z_mean"], point["Z_var"], data.Y, hyper).eval(
        mode=TEST_MODE
    )
    kl = gaussian_kl(point["Z_mean"], point["Z_var"], spec.prior_scale).eval(mode=TEST_MODE)
    priors = sum(prior_log_density(hyper[k], spec.priors[k]) for k in spec.learned)
    np.testing.assert_allclose(objective(x0)[0], -(bound - kl + priors), rtol=1e-10)


def test_kmeans_and_random_inducing_starts():
    Z, _ = random_problem(200, 1, 2, seed=8)
    for init in ("kmeans", "random"):
        U = Sparse(RBF(), num_inducing=16, inducing_init=init).initial_parameters(Z, seed=0)["inducing"]
        assert U.shape == (16, 2)
        assert len(np.unique(U, axis=0)) == 16
    random_U = Sparse(RBF(), num_inducing=16, inducing_init="random").initial_parameters(Z, seed=0)[
        "inducing"
    ]
    assert all(any(np.array_equal(u, z) for z in Z) for u in random_U)  # a subset of the latents
    assert Sparse(RBF(), num_inducing=500).initial_parameters(Z, seed=0)["inducing"].shape == (200, 2)


def test_compiled_graph_matches_numpy_for_pytensor_variables():
    kernel, hyper = KERNELS["rbf_ard"]
    Z, Y = random_problem(9, 2, 2, seed=9)
    U = Z[:3]
    z, u = pt.matrix("Z"), pt.matrix("U")
    fn = pytensor.function(
        [z, u], Sparse(kernel).log_likelihood(z, Y, {**hyper, "inducing": u}), mode=TEST_MODE
    )
    np.testing.assert_allclose(
        fn(Z, U), Sparse(kernel).log_likelihood_np(Z, Y, {**hyper, "inducing": U}), rtol=1e-10
    )


def _plain_coupling_sum(a, w, U, b):
    """T written elementwise over rows in NumPy: sum_n exp(a_nm + a_nk - 1/2 sum_q w_nq U_mq U_kq + b_mk)."""
    exponent = a[:, :, None] + a[:, None, :] - 0.5 * np.einsum("nq,mq,kq->nmk", w, U, U) + 0.5 * (b + b.T)
    return np.exp(exponent).sum(axis=0)


def test_coupling_sum_op_matches_the_elementwise_expression_and_its_gradient():
    from pytensor.gradient import verify_grad

    from gplvm.model.psi_ops import coupling_sum

    rng = np.random.default_rng(10)
    a, w, U = rng.uniform(-2.0, 0.0, (7, 4)), rng.uniform(0.2, 2.0, (7, 3)), rng.normal(size=(4, 3))
    b = rng.uniform(-1.0, 0.0, (4, 4))  # not symmetric: the Op reads its symmetric part
    expected = _plain_coupling_sum(a, w, U, b)
    np.testing.assert_allclose(coupling_sum(a, w, U, b).eval(mode=TEST_MODE), expected, rtol=1e-12)
    verify_grad(coupling_sum, [a, w, U, b], rng=rng, mode=TEST_MODE)


def test_the_compiled_exp_equals_numpys_to_rounding():
    """The psi statistics' vectorisable exp: within 4e-16 relative of NumPy's over [-708, 709]
    (the exponents of Psi2 terms are at most twice the log kernel variance), exactly 1 at 0, 0
    below -708 and inf above 709."""
    from gplvm.model.psi_ops import _exp_into

    x = np.concatenate(
        [
            -np.geomspace(1e-300, 708.0, 20_000),
            np.linspace(-708.0, 0.0, 20_001),
            np.geomspace(1e-300, 709.0, 20_000),
        ]
    )
    out, k_buf = np.empty_like(x), np.empty(len(x), dtype=np.int64)
    _exp_into(x, out, k_buf)
    np.testing.assert_allclose(out, np.exp(x), rtol=4e-16, atol=0)
    assert out[40_000] == 1.0
    beyond = np.array([-708.5, -745.0, -1e4, 709.5, 800.0, 1e4])
    _exp_into(beyond, out[:6], k_buf[:6])
    np.testing.assert_array_equal(out[:6], [0.0, 0.0, 0.0, np.inf, np.inf, np.inf])


@pytest.mark.parametrize("keep", [True, False])
def test_coupling_sum_over_many_rows_in_parallel_blocks(monkeypatch, keep):
    """Enough rows for the sum to split into blocks of rows over numba's threads, with each
    row's terms kept for the gradient or (``keep`` False) recomputed by it: T and its gradient
    equal the plain elementwise expression's."""
    import gplvm.model.psi_ops as psi_ops

    if not keep:
        monkeypatch.setattr(psi_ops, "KEEP_BLOCKS_BYTES", 0)
    rng = np.random.default_rng(13)
    n_obs, n_inducing, latent_dim = 1200, 60, 2  # 4.3 million terms: blocks of rows over threads
    assert n_obs * n_inducing**2 >= 2 * psi_ops.PARALLEL_MIN_TERMS
    a = rng.uniform(-3.0, 0.0, (n_obs, n_inducing))
    w = rng.uniform(0.2, 2.0, (n_obs, latent_dim))
    U = rng.normal(size=(n_inducing, latent_dim))
    b = rng.uniform(-1.0, 0.0, (n_inducing, n_inducing))
    G = rng.normal(size=(n_inducing, n_inducing))
    inputs = [pt.matrix(name) for name in ("a", "w", "U", "b")]
    objective = pt.sum(G * psi_ops.coupling_sum(*inputs))
    fn = pytensor.function(inputs, [objective, *pytensor.grad(objective, inputs)], mode=TEST_MODE)
    plain = pt.sum(G * _plain_coupling(*inputs))
    reference = pytensor.function(inputs, [plain, *pytensor.grad(plain, inputs)], mode=TEST_MODE)
    for got, expected in zip(fn(a, w, U, b), reference(a, w, U, b), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("by_column", [False, True])
def test_rbf_psi2_stays_finite_with_inducing_inputs_far_from_the_data(by_column):
    """Two inducing inputs far out on opposite sides: each factor of a Psi2 term under- or
    overflows on its own (0 x inf) though the term is tiny; the statistic and its gradient must
    equal a direct NumPy evaluation of each term from its log."""
    kernel = RBF(ard=True)
    hyper = {"variance": np.array(1.3), "lengthscale": np.array([0.3, 0.8]), "bias": np.array(0.0)}
    rng = np.random.default_rng(12)
    mean, S = rng.normal(size=(6, 2)), rng.uniform(0.01, 0.2, (6, 2))
    U = np.array([[-22.5, 0.3], [19.9, -0.4], [0.2, 0.1]])
    ell2 = hyper["lengthscale"] ** 2
    ubar = 0.5 * (U[:, None, :] + U[None, :, :])
    log_terms = (
        -0.5 * np.log1p(2 * S / ell2).sum(1)[:, None, None]
        - ((U[:, None, :] - U[None, :, :]) ** 2 / (4 * ell2)).sum(-1)[None]
        - ((mean[:, None, None, :] - ubar[None]) ** 2 / (ell2 + 2 * S)[:, None, None, :]).sum(-1)
    )
    expected = hyper["variance"] ** 2 * np.exp(log_terms).sum(0)
    m, s, u = pt.matrix("mean"), pt.matrix("S"), pt.matrix("U")
    expectations = expectations_of(kernel)
    if by_column:
        observed = np.ones((6, 1), dtype=bool)
        Psi2 = expectations.psi_statistics_by_column(m, s, u, hyper, observed)[2][0]
    else:
        Psi2 = expectations.psi_statistics(m, s, u, hyper)[2]
    fn = pytensor.function([m, s, u], [Psi2, pytensor.grad(Psi2.sum(), [m, s, u])[2]], mode=TEST_MODE)
    got, grad_U = fn(mean, S, U)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-300)
    assert np.isfinite(grad_U).all()


def test_one_coupling_sum_op_applied_twice_keeps_each_nodes_buffer():
    """The Op keeps each node's terms between calls: two nodes of one Op instance in one graph,
    called again with new values of the same shapes, give the plain expression's gradients."""
    from gplvm.model.psi_ops import CouplingSum

    op = CouplingSum()
    rng = np.random.default_rng(11)
    a1, w1, a2, w2 = (pt.matrix(n) for n in ("a1", "w1", "a2", "w2"))
    U, b = pt.matrix("U"), pt.matrix("b")
    G = rng.normal(size=(4, 4))
    total = pt.sum(G * op(a1, w1, U, b)[0]) + pt.sum(G.T * op(a2, w2, U, b)[0])
    inputs = [a1, w1, a2, w2, U, b]
    fn = pytensor.function(inputs, pytensor.grad(total, inputs), mode=TEST_MODE)

    reference = pytensor.function(inputs, pytensor.grad(_summed_plain(inputs, G), inputs), mode=TEST_MODE)
    for _ in range(3):  # new values each call: a stale buffer would show
        values = [
            rng.uniform(-2.0, 0.0, (6, 4)),
            rng.uniform(0.2, 2.0, (6, 3)),
            rng.uniform(-2.0, 0.0, (6, 4)),
            rng.uniform(0.2, 2.0, (6, 3)),
            rng.normal(size=(4, 3)),
            rng.uniform(-1.0, 0.0, (4, 4)),
        ]
        for got, want in zip(fn(*values), reference(*values), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _plain_coupling(a, w, U, b):
    """T in PyTensor, elementwise over rows: (n, M, M) terms exp(a_nm + a_nk - 1/2 sum_q w_nq U_mq
    U_kq + (b_mk + b_km) / 2), summed over n."""
    coupled = pt.sum(w[:, None, None, :] * U[None, :, None, :] * U[None, None, :, :], axis=-1)
    exponent = a[:, :, None] + a[:, None, :] - 0.5 * coupled + 0.5 * (b + b.T)[None]
    return pt.sum(pt.exp(exponent), axis=0)


def _summed_plain(inputs, G):
    """sum(G * T(a1, w1)) + sum(G^T * T(a2, w2)) with T written elementwise over rows."""
    a1, w1, a2, w2, U, b = inputs
    return pt.sum(G * _plain_coupling(a1, w1, U, b)) + pt.sum(G.T * _plain_coupling(a2, w2, U, b))
