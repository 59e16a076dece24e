"""The predictive-variance background of latent plots for stationary kernels (as in GPy).

NumPy only: the values are computed where the fit is, and drawn by :mod:`gplvm.plots.figures`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gplvm.model.spec import ModelSpec


@dataclass(frozen=True)
class Shading:
    """Predictive variance of f on a grid over two latent dims (GPy's latent-plot background)."""

    x: np.ndarray  # grid coordinates along dims[0]
    y: np.ndarray  # along dims[1], or observation numbers when Q = 1
    variance: np.ndarray  # (len(y), len(x))
    dims: tuple[int, int]


def variance_shading(
    Z: np.ndarray,
    predictive_variance: Callable[[np.ndarray], np.ndarray],
    dims: tuple[int, int] = (0, 1),
    resolution: int = 80,
) -> Shading:
    """Evaluate ``predictive_variance`` on a grid spanning Z (plus a margin) in ``dims``.

    Other latent dims are held at their mean, as GPy does. With Q = 1 the variance depends on
    dim 0 only and is drawn as vertical bands behind the observation-number axis.
    """
    pad = 0.15 * (Z.max(axis=0) - Z.min(axis=0) + 1e-12)
    lo, hi = Z.min(axis=0) - pad, Z.max(axis=0) + pad
    x = np.linspace(lo[dims[0]], hi[dims[0]], resolution)
    if Z.shape[1] == 1:
        var = predictive_variance(x[:, None])
        return Shading(x, np.array([-0.5, len(Z) - 0.5]), np.vstack([var, var]), (0, 0))
    y = np.linspace(lo[dims[1]], hi[dims[1]], resolution)
    grid = np.tile(Z.mean(axis=0), (resolution * resolution, 1))
    gx, gy = np.meshgrid(x, y)
    grid[:, dims[0]], grid[:, dims[1]] = gx.ravel(), gy.ravel()
    return Shading(x, y, predictive_variance(grid).reshape(resolution, resolution), dims)


def top_two(relevance) -> tuple[int, int]:
    """The two dims with the largest ARD relevance, most relevant first (GPy's ``which_indices``)."""
    first, second = np.argsort(-np.asarray(relevance, dtype=float))[:2]
    return (int(first), int(second))


def most_relevant_dims(spec: ModelSpec, hyper: dict) -> tuple[int, int]:
    """The two latent dims to plot: :func:`top_two` with ARD and Q > 2, else (0, 1)."""
    relevance = spec.kernel.relevance(hyper)
    if relevance is None or spec.latent_dim <= 2:
        return (0, 1)
    return top_two(relevance)


def latent_shading(Z: np.ndarray, hyper: dict, spec: ModelSpec) -> Shading | None:
    """GPy-style predictive-variance background in the two most relevant dims, or None.

    Only stationary kernels get one: far from the data their variance returns to the prior's,
    which is what the shading shows. ``hyper`` holds numbers, arrays or lists (as in
    ``metrics.json``'s ``hyperparameters``, plus the sparse form's ``inducing``). With ARD the
    dims shown are the two most relevant (shortest length scales; GPy's ``which_indices``).
    """
    if not spec.kernel.stationary:
        return None
    dims = most_relevant_dims(spec, hyper)
    hyper = {name: np.asarray(value, dtype=float) for name, value in hyper.items()}

    def variance(Z_new: np.ndarray) -> np.ndarray:
        return spec.form.predictive_variance(Z_new, Z, hyper)

    return variance_shading(Z, variance, dims)
