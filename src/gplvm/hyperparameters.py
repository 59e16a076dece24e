"""Hyperparameter values: fixed ones from the config, learned ones from a fit's posterior."""

from __future__ import annotations

import numpy as np
import xarray as xr

from gplvm.config import KERNEL_HYPERPARAMETERS, ModelConfig


def names(cfg: ModelConfig) -> tuple[str, ...]:
    """The hyperparameters of the configured kernel: ``beta`` first, then the kernel's own."""
    return ("beta", *KERNEL_HYPERPARAMETERS[cfg.kernel])


def configured(cfg: ModelConfig) -> dict[str, float | np.ndarray]:
    """The configured values: fixed values, and starting values of learned ones.

    An ARD length scale is a vector of length Q, every entry equal to ``model.lengthscale``.
    """
    out: dict[str, float | np.ndarray] = {name: float(getattr(cfg, name)) for name in names(cfg)}
    if cfg.ard:
        out["lengthscale"] = np.full(cfg.latent_dim, cfg.lengthscale)
    return out


def per_draw(posterior: xr.Dataset, cfg: ModelConfig) -> list[dict[str, float | np.ndarray]]:
    """One dict of values per draw (chains flattened), learned ones read from ``posterior``."""
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    fixed = configured(cfg)
    learned = {
        name: posterior[name].values.reshape(n_draws, *posterior[name].shape[2:]) for name in cfg.learned()
    }
    return [
        {name: learned[name][i] if name in learned else fixed[name] for name in fixed} for i in range(n_draws)
    ]


def first_draw(posterior: xr.Dataset, cfg: ModelConfig) -> dict[str, float | np.ndarray]:
    """The values of the first draw: for a MAP fit, the MAP."""
    return per_draw(posterior.isel(chain=[0], draw=[0]), cfg)[0]


def summary(posterior: xr.Dataset, cfg: ModelConfig) -> dict[str, float | list[float]]:
    """Values for ``metrics.json``: posterior means of learned ones (the MAP has one draw), else fixed."""
    out: dict[str, float | list[float]] = {}
    for name, value in configured(cfg).items():
        if name in cfg.learned():
            value = posterior[name].mean(("chain", "draw")).values
        value = np.asarray(value, dtype=float)
        out[name] = value.tolist() if value.ndim else float(value)
    return out
