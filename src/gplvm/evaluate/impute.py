"""Missing cells filled in by the fitted model: each cell's predictive mean and sd.

Given the latents, column d is a GP over them, so a missing cell (n, d) is predicted from the
column's observed rows alone: mean k(z_n, Z_O) K_OO^-1 y_O and the predictive variance of a new
observation there (the noise included). Columns missing the same rows share one factorisation.
With draws (NUTS, variational) up to ``max_draws`` of them, evenly spaced, are combined: the mean
of their means, and their mean variance plus the variance of their means (the law of total
variance). Predictions live in data space, so no alignment of the draws is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from gplvm.data.missing import column_groups
from gplvm.model.forms import LikelihoodForm

MAX_DRAWS = 20


def impute_point(
    form: LikelihoodForm, Z: np.ndarray, Y: np.ndarray, hyper: dict
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, variance), both (N, D), of every cell of ``Y`` under one fit (latents, hyperparameters).

    Observed cells keep their value, with variance 0.
    """
    mean, var = Y.copy(), np.zeros_like(Y)
    every_row = np.arange(len(Y))
    for group in column_groups(~np.isnan(Y)):
        missing_rows = np.setdiff1d(every_row, group.rows)
        if len(missing_rows) == 0:
            continue
        factors = form.complete_factors(Z[group.rows], Y[np.ix_(group.rows, group.cols)], hyper)
        m, v = factors.predict(form.kernel, Z[missing_rows], hyper)
        mean[np.ix_(missing_rows, group.cols)] = m
        var[np.ix_(missing_rows, group.cols)] = v[:, None]
    return mean, var


def impute(
    form: LikelihoodForm, fits: Sequence[tuple[np.ndarray, dict]], Y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, sd), both (N, D), of every cell of ``Y`` (NaN where missing) combined over ``fits``."""
    means, variances = zip(*(impute_point(form, Z, Y, hyper) for Z, hyper in fits), strict=True)
    means = np.stack(means)
    variance = np.mean(variances, axis=0) + means.var(axis=0)
    observed = ~np.isnan(Y)  # exactly the data, sd exactly 0: averages of equal numbers can round
    return np.where(observed, Y, means.mean(axis=0)), np.where(observed, 0.0, np.sqrt(variance))


def imputed_group(mean: np.ndarray, sd: np.ndarray, features: Sequence[str], n_fits: int) -> xr.Dataset:
    """The ``imputed`` group of a run: ``Y_imputed`` and ``Y_imputed_sd`` (obs, feature), original units."""
    dims = ("obs", "feature")
    return xr.Dataset(
        {"Y_imputed": (dims, mean), "Y_imputed_sd": (dims, sd)},
        coords={"obs": np.arange(len(mean)), "feature": np.asarray(features, dtype=str)},
        attrs={"n_fits": n_fits, "units": "original (the data file's)"},
    )
