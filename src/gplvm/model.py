"""Build the GPLVM as a ``pm.Model``: Z ~ Normal, plus eq. 1 as a ``pm.Potential``."""

from __future__ import annotations

import numpy as np
import pymc as pm

from gplvm.config import ModelConfig
from gplvm.data import Dataset
from gplvm.likelihood import log_likelihood


def coords_for(data: Dataset, latent_dim: int) -> dict[str, np.ndarray]:
    """Coordinates for the named dims ``obs``, ``feature`` and ``latent_dim``."""
    return {
        "obs": np.arange(data.n_obs),
        "feature": np.asarray(data.feature_names, dtype=str),
        "latent_dim": np.arange(latent_dim),
    }


def build_model(data: Dataset, cfg: ModelConfig) -> pm.Model:
    """Return the GPLVM model for ``data``.

    ``Y``, ``beta`` and ``Y_sq_norm`` (||Y||_F^2, computed once here rather than at every
    evaluation) are ``pm.Data``: they land in the ``constant_data`` group, and models that differ
    only in their values share one compiled graph.

    Parameters
    ----------
    data : Dataset
        Centred observations.
    cfg : ModelConfig
        Latent dimension, beta, the prior scale of Z and the likelihood form.

    Returns
    -------
    pm.Model
        Free variable ``Z`` with dims (``obs``, ``latent_dim``) and the potential
        ``log_likelihood``.
    """
    with pm.Model(coords=coords_for(data, cfg.latent_dim)) as model:
        Y = pm.Data("Y", data.Y, dims=("obs", "feature"))
        beta = pm.Data("beta", float(cfg.beta))
        Y_sq_norm = pm.Data("Y_sq_norm", float(np.sum(data.Y**2)))
        Z = pm.Normal("Z", mu=0.0, sigma=cfg.prior_scale, dims=("obs", "latent_dim"))
        pm.Potential("log_likelihood", log_likelihood(Z, Y, beta, cfg.likelihood.value, Y_sq_norm))
    return model
