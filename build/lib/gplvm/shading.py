"""The predictive-variance background of latent plots for stationary kernels (as in GPy)."""

from __future__ import annotations

import numpy as np

from gplvm.plots import Shading, variance_shading
from gplvm.spec import ModelSpec


def latent_shading(Z: np.ndarray, hyper: dict, spec: ModelSpec) -> Shading | None:
    """GPy-style predictive-variance background in the two most relevant dims, or None.

    Only stationary kernels get one: far from the data their variance returns to the prior's,
    which is what the shading shows. ``hyper`` holds numbers, arrays or lists (as in
    ``metrics.json``'s ``hyperparameters``). With ARD the dims shown are the two most relevant
    (shortest length scales; GPy's ``which_indices``).
    """
    if not spec.kernel.stationary:
        return None
    dims = (0, 1)
    relevance = spec.kernel.relevance(hyper)
    if relevance is not None and spec.latent_dim > 2:
        first, second = np.argsort(-relevance)[:2]
        dims = (int(first), int(second))
    hyper = {name: np.asarray(value, dtype=float) for name, value in hyper.items()}

    def variance(Z_new: np.ndarray) -> np.ndarray:
        return spec.kernel.predictive_variance(Z_new, Z, hyper)

    return variance_shading(Z, variance, dims)
