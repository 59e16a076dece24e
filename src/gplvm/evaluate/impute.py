"""Missing cells filled in by the fitted model: each cell's predictive mean and sd.

Given the latents, column d is a GP over them, so a missing cell (n, d) is predicted from the
column's observed rows alone: mean k(z_n, Z_O) K_OO^-1 y_O and the predictive variance of a new
observation there (the noise included). Columns missing the same rows share one factorisation.

The sds also carry the uncertainty of where each row sits in the latent space. With draws (NUTS,
variational) up to ``max_draws`` of them, evenly spaced, are combined: the mean of their means,
and their mean variance plus the variance of their means (the law of total variance); predictions
live in data space, so no alignment of the draws is needed. A point fit (MAP) has no draws: each
row with missing cells gets a Laplace approximation of its latent, from its observed cells with
everything else fixed (the projection's, :mod:`gplvm.evaluate.projection`), and seeded draws from
it are combined in the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from gplvm.data.missing import column_groups
from gplvm.evaluate.projection import project
from gplvm.model.forms import LikelihoodForm

MAX_DRAWS = 20


# Draws from each row's Laplace approximation combined for a point fit's imputation.
LAPLACE_DRAWS = 64


def impute_point(
    form: LikelihoodForm, Z: np.ndarray, Y: np.ndarray, hyper: dict, at: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, variance), both (N, D), of every cell of ``Y`` under one fit (latents, hyperparameters).

    ``at`` (S, N, Q), when given, holds S latent points per row at which its missing cells are
    predicted, combined by the law of total variance; by default each row's fitted latent. The
    columns' GPs always condition on their observed rows at ``Z``. Observed cells keep their
    value, with variance 0.
    """
    at = Z[None] if at is None else at
    mean, var = Y.copy(), np.zeros_like(Y)
    every_row = np.arange(len(Y))
    for group in column_groups(~np.isnan(Y)):
        missing_rows = np.setdiff1d(every_row, group.rows)
        if len(missing_rows) == 0:
            continue
        factors = form.complete_factors(Z[group.rows], Y[np.ix_(group.rows, group.cols)], hyper)
        means, variances = zip(
            *(factors.predict(form.kernel, points[missing_rows], hyper) for points in at), strict=True
        )
        means = np.stack(means)  # (S, rows, columns)
        mean[np.ix_(missing_rows, group.cols)] = means.mean(axis=0)
        var[np.ix_(missing_rows, group.cols)] = np.mean(variances, axis=0)[:, None] + means.var(axis=0)
    return mean, var


def laplace_latent_draws(
    form: LikelihoodForm, Z: np.ndarray, hyper: dict, Y: np.ndarray, prior_scale: float, seed: int
) -> np.ndarray:
    """(LAPLACE_DRAWS, N, Q) latent points: each row with missing cells drawn from the Laplace
    approximation of its latent given its observed cells (the rest fixed at the fit); other rows
    at ``Z``. ``Y`` is the fitted data (fitted units, NaN where missing)."""
    rows = np.flatnonzero(np.isnan(Y).any(axis=1))
    draws = np.repeat(Z[None], LAPLACE_DRAWS, axis=0)
    if len(rows):
        placed = project(form, [(Z, hyper, np.eye(Z.shape[1]))], Y, Y[rows], prior_scale)
        noise = np.random.default_rng([seed, 2]).standard_normal((LAPLACE_DRAWS, len(rows), Z.shape[1]))
        draws[:, rows] = Z[rows] + placed.Z_sd * noise
    return draws


def impute(
    form: LikelihoodForm,
    fits: Sequence[tuple[np.ndarray, dict]],
    Y: np.ndarray,
    at: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, sd), both (N, D), of every cell of ``Y`` (NaN where missing) combined over ``fits``.

    ``at``: a single fit's latent draws (see :func:`impute_point`), e.g. from
    :func:`laplace_latent_draws`.
    """
    if at is not None and len(fits) != 1:
        raise ValueError("latent draws apply to a single point fit; draws of a posterior carry their own")
    means, variances = zip(*(impute_point(form, Z, Y, hyper, at) for Z, hyper in fits), strict=True)
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
