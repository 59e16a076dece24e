"""The predictive-variance background of latent plots for non-linear kernels (as in GPy)."""

from __future__ import annotations

import numpy as np

from gplvm.config import Kernel, ModelConfig
from gplvm.kernels import predictive_variance
from gplvm.plots import Shading, variance_shading


def latent_shading(Z: np.ndarray, hyper: dict, m: ModelConfig) -> Shading | None:
    """GPy-style predictive-variance background for non-linear kernels, in the two most relevant dims.

    ``hyper`` holds numbers, arrays or lists (as in ``metrics.json``'s ``hyperparameters``). With
    ARD the dims shown are those with the shortest length scales (GPy's ``which_indices``).
    """
    if m.kernel == Kernel.linear:
        return None
    dims = (0, 1)
    if m.ard and m.latent_dim > 2:
        first, second = np.argsort(np.asarray(hyper["lengthscale"]))[:2]
        dims = (int(first), int(second))

    def variance(Z_new: np.ndarray) -> np.ndarray:
        return predictive_variance(Z_new, Z, m.kernel.value, hyper, m.jitter)

    return variance_shading(Z, variance, dims)
