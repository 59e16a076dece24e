"""Prediction along the GP latent prior's inputs: latents and rows at new input values.

For a run with ``latent_prior=gp``, a new input value t* (a time missing from the series, or a
short forecast) has a latent z* from the prior's GP conditional given the fitted latents, and a
row y* from the fitted mapping at z*. The latent's uncertainty is carried into y* by seeded
draws of z* combined by the law of total variance, and a run with draws (NUTS, q's draws) does
the same under each of up to ``max_draws`` of them, each in its own frame: y* lives in data space,
so the draws need no alignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from gplvm.model.latent_priors import GPLatentPrior
from gplvm.model.spec import ModelSpec

LATENT_DRAWS = 64  # draws of z* per fit


@dataclass(frozen=True)
class AlongInputs:
    """Predictions at new input values.

    Attributes
    ----------
    Z, Z_sd : ndarray, shape (n*, Q), or None
        The latents' conditional mean and sd (a point fit only: draws live in different frames).
    Y, Y_sd : ndarray, shape (n*, D)
        The rows' predictive mean and sd, in the units of the data file.
    """

    Z: np.ndarray | None
    Z_sd: np.ndarray | None
    Y: np.ndarray
    Y_sd: np.ndarray


def predict_along_inputs(
    spec: ModelSpec,
    posterior: xr.Dataset,
    Y_fitted: np.ndarray,
    offset: np.ndarray,
    scale: np.ndarray,
    new_inputs: np.ndarray,
    new_groups: np.ndarray | None = None,
    max_draws: int = 20,
    seed: int = 0,
) -> AlongInputs:
    """Latents and rows at ``new_inputs`` (n*, P raw input values) under a GP-prior run.

    ``Y_fitted`` is the data as fitted (centred, maybe scaled); ``offset`` and ``scale`` give the
    file's units back: raw = fitted * scale + offset.
    """
    prior = spec.latent_prior
    if not isinstance(prior, GPLatentPrior):
        raise ValueError("prediction along inputs needs a run with latent_prior=gp")
    rng = np.random.default_rng([seed, 3])
    fits = spec.fits(posterior, max_draws)
    y_means, y_variances, z_out = [], [], None
    for _, Z, hyper in fits:
        z_mean, z_variance = prior.conditional(Z, prior.theta(hyper), new_inputs, new_groups)
        predict = spec.form.predictor(Z, Y_fitted, hyper)
        noise = rng.standard_normal((LATENT_DRAWS, *z_mean.shape))
        means, variances = [], []
        for draw in z_mean + np.sqrt(z_variance)[:, None] * noise:
            mean, variance = predict(draw)
            means.append(mean)
            variances.append(
                np.broadcast_to(variance if variance.ndim == 2 else variance[:, None], mean.shape)
            )
        means = np.stack(means)
        y_means.append(means.mean(axis=0))
        y_variances.append(np.mean(variances, axis=0) + means.var(axis=0))
        if len(fits) == 1:
            z_out = (z_mean, np.repeat(np.sqrt(z_variance)[:, None], z_mean.shape[1], axis=1))
    y_means = np.stack(y_means)
    variance = np.mean(y_variances, axis=0) + y_means.var(axis=0)
    Z, Z_sd = z_out if z_out is not None else (None, None)
    return AlongInputs(Z, Z_sd, y_means.mean(axis=0) * scale + offset, np.sqrt(variance) * scale)
