"""Latent priors other than the iid Normal: a GP over covariates (exact or Hilbert-space), and
per-row informative means.

:func:`make_latent_prior` builds the configured one for a data set's covariates; the iid default
is ``None`` (the model builders keep their plain ``Z ~ Normal`` path for it).
"""

from __future__ import annotations

import numpy as np

from gplvm.config import GPLatentPriorConfig, InformativeLatentPriorConfig, LatentPriorConfig
from gplvm.model.latent_priors.base import WHITENED, QMoments, StructuredPrior, numeric_column
from gplvm.model.latent_priors.gp import LAMBDA, LENGTHSCALE, MUBAR, GPLatentPrior, vgpds_q, vgpds_q_np
from gplvm.model.latent_priors.hsgp import HSGPLatentPrior
from gplvm.model.latent_priors.informative import SPREAD, InformativePrior

__all__ = [
    "LAMBDA",
    "LENGTHSCALE",
    "MUBAR",
    "SPREAD",
    "WHITENED",
    "GPLatentPrior",
    "HSGPLatentPrior",
    "InformativePrior",
    "QMoments",
    "StructuredPrior",
    "make_latent_prior",
    "numeric_column",
    "vgpds_q",
    "vgpds_q_np",
]


def make_latent_prior(
    cfg: LatentPriorConfig, covariates: dict[str, np.ndarray], prior_scale: float, latent_dim: int
) -> StructuredPrior | None:
    """The configured prior over the rows whose ``covariates`` are given; None for ``iid``."""
    if isinstance(cfg, GPLatentPriorConfig):
        exact = cfg.approximation is None
        return (GPLatentPrior if exact else HSGPLatentPrior).from_config(cfg, covariates, prior_scale)
    if isinstance(cfg, InformativeLatentPriorConfig):
        return InformativePrior.from_config(cfg, covariates, prior_scale, latent_dim)
    return None
