"""Checks that a fitted point is a usable model, not just an optimiser's stopping point.

An optimiser can converge while a learned hyperparameter runs away: beta to where the noise
vanishes and K interpolates the data, or any value towards the limits of floating point. The
run is then not a fit to trust, whatever the optimiser says.
"""

from __future__ import annotations

import numpy as np

# Learned values beyond these are taken as run away (e^+-23): no data set in its own units needs them.
RUNAWAY_LIMIT = 1e10
# Noise below this fraction of the data's mean variance per column (a signal-to-noise ratio of
# 10^4): the fit interpolates the data. Iris's Matern MAP reached 4e-6 (beta 270,000, for data
# recorded to 0.1 cm); sound fits of the bundled data sit above 1e-3.
INTERPOLATING_NOISE_FRACTION = 1e-4


def runaway_hyperparameters(fitted: dict, learned: list[str], Y: np.ndarray) -> list[str]:
    """One line per learned hyperparameter that ran away, with the remedy; empty when none did.

    Parameters
    ----------
    fitted : dict
        The fitted values (point estimate or posterior mean) by name; ARD length scales as arrays.
    learned : list of str
        The names of the learned hyperparameters.
    Y : ndarray, shape (N, D)
        The data as fitted, missing cells as NaN.

    Returns
    -------
    list of str
        The problems, each naming the value and the remedy.
    """
    problems, named = [], set()
    if "beta" in learned:
        beta = float(np.asarray(fitted["beta"]))
        data_variance = float(np.nanmean(np.nanvar(Y, axis=0)))
        if data_variance > 0 and not 1.0 / beta >= INTERPOLATING_NOISE_FRACTION * data_variance:
            named.add("beta")
            problems.append(
                f"beta ran to {beta:.3g}: a noise variance of {1.0 / beta:.3g} against a mean data"
                f" variance of {data_variance:.3g} per column, so the fit interpolates the data; fix"
                " beta (model.learn.beta=false model.beta=<value>), tighten its prior"
                " (model.priors.beta.sigma=1) or lower model.latent_dim"
            )
    for name in learned:
        values = np.atleast_1d(np.asarray(fitted[name], dtype=float))
        bad = values[~np.isfinite(values) | (values > RUNAWAY_LIMIT) | (values < 1 / RUNAWAY_LIMIT)]
        if bad.size and name not in named:
            problems.append(
                f"{name} ran away to {bad[0]:.3g} (outside [{1 / RUNAWAY_LIMIT:g}, {RUNAWAY_LIMIT:g}]):"
                f" fix it (model.learn.{name}=false model.{name}=<value>) or tighten its prior"
                f" (model.priors.{name}.sigma=1)"
            )
    return problems
