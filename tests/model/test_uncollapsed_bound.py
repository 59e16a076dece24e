"""The uncollapsed bound: minibatches estimate it without bias (every batch enumerated), and at
the optimal q(u) it equals Titsias's collapsed bound."""

from __future__ import annotations

import itertools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gplvm.config import load_config
from gplvm.inference.python_mode import python_mode
from gplvm.model.collapsed_bound import collapsed_bound
from gplvm.model.expectations import expectations_of
from gplvm.model.spec import ModelSpec
from gplvm.model.uncollapsed_bound import optimal_q_u, q_u_kl, row_terms

N, D, Q, M = 10, 4, 2, 5


def problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    cfg = load_config("model=rbf_ard", f"model.latent_dim={Q}", f"model.num_inducing={M}")
    spec = ModelSpec.from_config(cfg.model, N).as_sparse()
    hyper = {
        "beta": 3.0,
        "variance": 1.3,
        "lengthscale": np.array([0.9, 1.6]),
        "bias": 0.0,
        "inducing": rng.standard_normal((M, Q)),
    }
    mean, variance = rng.standard_normal((N, Q)), rng.uniform(0.05, 0.4, (N, Q))
    Y = rng.standard_normal((N, D))
    return spec, hyper, mean, variance, Y


def function(inputs, outputs):
    return pytensor.function(inputs, outputs, mode=python_mode())


def compiled(spec, hyper):
    """(row terms at q(u), collapsed bound, optimal q(u)) as functions of q(Z), Y and q(u)."""
    mean, variance, Y = pt.matrix("mean"), pt.matrix("variance"), pt.matrix("Y")
    q_mean, q_chol = pt.matrix("q_mean"), pt.matrix("q_chol")
    values = {k: pt.as_tensor(np.asarray(v, dtype=float)) for k, v in hyper.items()}
    expectations = expectations_of(spec.kernel)
    psi0, Psi1, Psi2 = expectations.psi_statistics_by_row(mean, variance, values["inducing"], values)
    psi0_sum, Psi2_sum = pt.sum(psi0), pt.sum(Psi2, axis=0)
    Kuu = spec.form.K_uu(values)
    noise = spec.kernel.noise_variance(values)
    rows = function(
        [mean, variance, Y, q_mean, q_chol],
        row_terms(psi0_sum, Psi1, Psi2_sum, Y, q_mean, q_chol, Kuu, noise),
    )
    kl_u = function([q_mean, q_chol], q_u_kl(q_mean, q_chol, Kuu))
    collapsed = function([mean, variance, Y], collapsed_bound(psi0_sum, Psi1, Psi2_sum, Kuu, Y, noise))
    best = function([mean, variance, Y], optimal_q_u(Psi1.T @ Y, Psi2_sum, Kuu, noise))
    return rows, kl_u, collapsed, best


def test_at_the_optimal_q_u_the_uncollapsed_bound_is_the_collapsed_one():
    spec, hyper, mean, variance, Y = problem()
    rows, kl_u, collapsed, best = compiled(spec, hyper)
    q_mean, q_chol = best(mean, variance, Y)
    uncollapsed = rows(mean, variance, Y, q_mean, q_chol) - kl_u(q_mean, q_chol)
    assert uncollapsed == pytest.approx(float(collapsed(mean, variance, Y)), rel=1e-10)
    # any other q(u) gives less
    rng = np.random.default_rng(1)
    worse = q_mean + 0.1 * rng.standard_normal(q_mean.shape)
    assert rows(mean, variance, Y, worse, q_chol) - kl_u(worse, q_chol) < uncollapsed


def test_minibatch_estimates_average_to_the_full_bound_over_every_batch():
    """(N / B) sum over a batch of the row terms, minus KL(q(u)): averaged over all C(10, 4)
    batches it is the full sum, for an arbitrary q(u)."""
    spec, hyper, mean, variance, Y = problem(2)
    rows, kl_u, _, _ = compiled(spec, hyper)
    rng = np.random.default_rng(3)
    q_mean = rng.standard_normal((M, D))
    q_chol = np.tril(rng.uniform(0.1, 0.5, (M, M))) + np.eye(M)
    full = rows(mean, variance, Y, q_mean, q_chol) - kl_u(q_mean, q_chol)
    batch = 4
    estimates = [
        N / batch * rows(mean[list(b)], variance[list(b)], Y[list(b)], q_mean, q_chol).sum()
        - kl_u(q_mean, q_chol)
        for b in itertools.combinations(range(N), batch)
    ]
    assert np.mean(estimates) == pytest.approx(full, rel=1e-12)
    assert np.std(estimates) > 1e-3 * abs(full)  # the batches do differ: the average is the point
