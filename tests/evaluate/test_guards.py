"""A learned hyperparameter that runs away marks the run as not converged, with the remedy."""

from __future__ import annotations

import numpy as np

from gplvm.evaluate.guards import runaway_hyperparameters

Y = np.random.default_rng(0).standard_normal((50, 4))  # unit variance per column


def test_a_reasonable_fit_has_no_problems():
    fitted = {"beta": 100.0, "variance": 2.0, "lengthscale": np.array([0.5, 3.0])}
    assert runaway_hyperparameters(fitted, ["beta", "variance", "lengthscale"], Y) == []


def test_beta_that_interpolates_the_data_is_named_with_the_remedy():
    # noise variance 1e-7 against a data variance of about 1: below the 1e-4 fraction
    (problem,) = runaway_hyperparameters({"beta": 1e7, "variance": 1.0}, ["beta", "variance"], Y)
    assert problem.startswith("beta ran to 1e+07") and "interpolates" in problem
    assert "model.learn.beta=false" in problem
    # the same beta on data with 10^6 times less variance is 0.1 of it: noise, not interpolation
    assert runaway_hyperparameters({"beta": 1e7}, ["beta"], Y * 1e-3) == []


def test_values_towards_the_float_limits_are_named_once_each():
    fitted = {"beta": 1.66e11, "variance": 1e11, "lengthscale": np.array([0.5, 2e-11])}
    problems = runaway_hyperparameters(fitted, ["beta", "variance", "lengthscale"], Y)
    assert [p.split(" ")[0] for p in problems] == ["beta", "variance", "lengthscale"]
    assert "interpolates" in problems[0]  # beta's message says why, once
    assert "variance ran away to 1e+11" in problems[1] and "lengthscale ran away to 2e-11" in problems[2]


def test_fixed_hyperparameters_are_not_judged():
    assert runaway_hyperparameters({"beta": 1e12}, [], Y) == []


def test_missing_cells_are_ignored_in_the_data_variance():
    holes = Y.copy()
    holes[0, 0] = np.nan
    assert runaway_hyperparameters({"beta": 1e7}, ["beta"], holes)
