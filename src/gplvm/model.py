"""Build the GPLVM as a ``pm.Model``: Z ~ Normal, hyperparameters, and eq. 1 as a ``pm.Potential``."""

from __future__ import annotations

import numpy as np
import pymc as pm

from gplvm.config import PriorConfig, PriorDist
from gplvm.data import Dataset
from gplvm.spec import ModelSpec


def coords_for(data: Dataset, latent_dim: int) -> dict[str, np.ndarray]:
    """Coordinates for the named dims ``obs``, ``feature`` and ``latent_dim``."""
    return {
        "obs": np.arange(data.n_obs),
        "feature": np.asarray(data.feature_names, dtype=str),
        "latent_dim": np.arange(latent_dim),
    }


def _learned(name: str, prior: PriorConfig, start, dims: str | None):
    """A positive hyperparameter with its prior, starting at its configured value.

    Parameters are passed as float64 arrays: PyMC stores a Python float that float32 holds exactly
    (3.0, say) as a float32 constant and then takes log(sigma) in float32, 2e-8 off per element.
    """
    mu, sigma = np.float64(prior.mu), np.float64(prior.sigma)
    if prior.dist == PriorDist.lognormal:
        return pm.LogNormal(name, mu=mu, sigma=sigma, initval=start, dims=dims)
    return pm.HalfNormal(name, sigma=sigma, initval=start, dims=dims)


def build_model(data: Dataset, spec: ModelSpec) -> pm.Model:
    """Return the GPLVM model for ``data``.

    Learned hyperparameters are free variables with their configured priors (log-transformed by
    PyMC, so unconstrained for the optimiser and the sampler) and start at their configured
    values. Fixed ones, ``Y`` and ``Y_sq_norm`` (||Y||_F^2, computed once here rather than at
    every evaluation) are ``pm.Data``: they land in the ``constant_data`` group, and models that
    differ only in their values share one compiled graph.

    Parameters
    ----------
    data : Dataset
        Centred observations.
    spec : ModelSpec
        Latent dimension, kernel, hyperparameters, the prior scale of Z and the likelihood form.

    Returns
    -------
    pm.Model
        Free variable ``Z`` with dims (``obs``, ``latent_dim``), learned hyperparameters (an ARD
        ``lengthscale`` has dims ``latent_dim``) and the potential ``log_likelihood``.
    """
    with pm.Model(coords=coords_for(data, spec.latent_dim)) as model:
        # borrow: the shared variable uses data.Y itself rather than a copy (0.5 GB at 10^6 rows).
        Y = pm.Data("Y", data.Y, dims=("obs", "feature"), borrow=True)
        Y_sq_norm = pm.Data("Y_sq_norm", float(np.einsum("nd,nd->", data.Y, data.Y)))
        hyper = {}
        for name, value in spec.configured.items():
            dims = "latent_dim" if np.ndim(value) else None
            if name in spec.learned:
                hyper[name] = _learned(name, spec.priors[name], value, dims)
            else:
                hyper[name] = pm.Data(name, value, dims=dims)
        Z = pm.Normal("Z", mu=0.0, sigma=np.float64(spec.prior_scale), dims=("obs", "latent_dim"))
        pm.Potential("log_likelihood", spec.form.log_likelihood(Z, Y, hyper, Y_sq_norm))
    return model
