"""Count likelihoods' expectations under a Gaussian f: against Monte Carlo, NumPy against
PyTensor, and their gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.stats import nbinom, poisson

from gplvm.model.count_likelihoods import (
    negative_binomial_expected_log_lik,
    negative_binomial_expected_log_lik_np,
    poisson_expected_log_lik,
    poisson_expected_log_lik_np,
)

Y = np.array([[0.0, 3.0, 12.0], [1.0, 0.0, 40.0]])
MEAN = np.array([[-0.5, 0.8, 1.5], [0.1, -1.2, 2.5]])
VARIANCE = np.array([[0.3, 0.1, 0.6], [1.2, 0.05, 0.4]])
LOG_SIZE = np.log(np.array([[1.5], [0.7]]))
DISPERSION = np.array([0.8, 2.0, 10.0])


def monte_carlo(log_pmf, draws: int = 400_000, seed: int = 0):
    """Mean and standard error of log p(y | f) over draws of f ~ N(MEAN, VARIANCE)."""
    rng = np.random.default_rng(seed)
    f = MEAN + np.sqrt(VARIANCE) * rng.standard_normal((draws, *MEAN.shape))
    values = log_pmf(np.exp(LOG_SIZE + f))
    return values.mean(axis=0), values.std(axis=0) / np.sqrt(draws)


def test_the_poisson_expectation_equals_monte_carlo():
    mc, se = monte_carlo(lambda mu: poisson.logpmf(Y, mu))
    exact = poisson_expected_log_lik_np(Y, MEAN, VARIANCE, LOG_SIZE)
    assert np.all(np.abs(exact - mc) < 4 * se)


def test_the_negative_binomial_expectation_equals_monte_carlo():
    mc, se = monte_carlo(lambda mu: nbinom.logpmf(Y, DISPERSION, DISPERSION / (DISPERSION + mu)))
    quadrature = negative_binomial_expected_log_lik_np(Y, MEAN, VARIANCE, LOG_SIZE, DISPERSION)
    assert np.all(np.abs(quadrature - mc) < 4 * se)


@pytest.mark.parametrize("likelihood", ["poisson", "negative_binomial"])
def test_pytensor_values_and_gradients_match_numpy_and_differences(likelihood):
    mean, variance, dispersion = pt.matrix("mean"), pt.matrix("variance"), pt.vector("r")
    if likelihood == "poisson":
        graph = poisson_expected_log_lik(Y, mean, variance, LOG_SIZE)

        def numpy(m, v, r):
            return poisson_expected_log_lik_np(Y, m, v, LOG_SIZE)
    else:
        graph = negative_binomial_expected_log_lik(Y, mean, variance, LOG_SIZE, dispersion)

        def numpy(m, v, r):
            return negative_binomial_expected_log_lik_np(Y, m, v, LOG_SIZE, r)

    total = pt.sum(graph)
    inputs = [mean, variance, dispersion]
    grads = pt.grad(total, [mean, variance, dispersion], disconnected_inputs="ignore")
    fn = pytensor.function(inputs, [graph, *grads], on_unused_input="ignore")
    value, *analytic = fn(MEAN, VARIANCE, DISPERSION)
    np.testing.assert_allclose(value, numpy(MEAN, VARIANCE, DISPERSION), rtol=1e-12)
    h = 1e-6
    point = [MEAN, VARIANCE, DISPERSION]
    for i, grad in enumerate(analytic):
        numeric = np.zeros_like(point[i])
        for idx in np.ndindex(point[i].shape):
            up = [p.copy() for p in point]
            down = [p.copy() for p in point]
            up[i][idx] += h
            down[i][idx] -= h
            numeric[idx] = (numpy(*up).sum() - numpy(*down).sum()) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
