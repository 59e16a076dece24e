"""Small helpers shared by the tests."""

from __future__ import annotations

import numpy as np

# The Python linker compiles in a fraction of a second and evaluates the same graph in float64;
# the numba backend that users run is exercised by the MAP, NUTS and CLI tests.
TEST_MODE = "FAST_COMPILE"
NUTS_ARGS = ["inference=nuts", "inference.draws=60", "inference.tune=60", "inference.chains=2"]


def random_problem(n_obs: int, n_features: int, latent_dim: int, seed: int = 0):
    """Seeded Z (N x Q) and centred Y (N x D)."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_obs, latent_dim))
    Y = rng.standard_normal((n_obs, n_features))
    return Z, Y - Y.mean(axis=0)


def central_difference(f, Z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Numerical gradient of a scalar function of a matrix, entry by entry."""
    grad = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        step = np.zeros_like(Z)
        step[idx] = h
        grad[idx] = (f(Z + step) - f(Z - step)) / (2 * h)
    return grad


def tiny_config(*overrides: str):
    """A validated Config composed from the installed configs on tiny synthetic data (40 x 8, Q = 2)."""
    from gplvm.config import load_config

    return load_config(
        "dataset=synthetic", "dataset.n_obs=40", "dataset.n_features=8", "plot=true", *overrides
    )


def point_for(model, values) -> dict:
    """Values by PyMC value-variable name (log-transformed where PyMC transformed), from
    constrained ``values`` by variable name."""
    out = {}
    for var in model.value_vars:
        name = var.name.removesuffix("_log__")
        out[var.name] = np.log(values[name]) if var.name.endswith("_log__") else values[name]
    return out


def point_at_first_draw(model, posterior) -> dict:
    """:func:`point_for` at a posterior's first draw (a point fit's point)."""
    names = [var.name.removesuffix("_log__") for var in model.value_vars]
    return point_for(model, {name: posterior[name].values[0, 0] for name in names})
