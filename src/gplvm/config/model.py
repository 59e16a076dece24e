"""The model schema: latent dimension, kernel, likelihood form, hyperparameters and their priors.

Names of kernels and likelihood forms are checked against their registries by
:mod:`gplvm.model.checks`, which knows the classes; here only ranges are checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gplvm.config.hyperparameters import (
    HYPERPARAMETERS,
    LearnConfig,
    PriorsConfig,
    with_hyperparameter_values,
)
from gplvm.config.validation import positive_finite, require
from gplvm.errors import ConfigError


class InducingInit(StrEnum):
    """Where the inducing inputs start: k-means centres of the starting latents, or a random subset."""

    kmeans = "kmeans"
    random = "random"


class Noise(StrEnum):
    """The observation model: Gaussian (eq. 1), or counts with a log link (``inference=svi``)."""

    gaussian = "gaussian"
    poisson = "poisson"
    negative_binomial = "negative_binomial"


@dataclass
@with_hyperparameter_values
class ModelConfig:
    """The GPLVM: K = k(Z) + (beta^-1 + jitter) I, Z ~ Normal(0, prior_scale).

    The hyperparameters (``beta``, ``variance``, ``lengthscale``, ``bias``: see
    :mod:`gplvm.config.hyperparameters`) are fixed values, or the starting values of the ones
    marked in ``learn``, which then get the priors in ``priors``.
    """

    latent_dim: int = 2
    kernel: str = "linear"  # a name registered in gplvm.model.kernels.KERNELS
    ard: bool = False  # stationary kernels: one length scale per latent dim
    learn: LearnConfig = field(default_factory=LearnConfig)
    priors: PriorsConfig = field(default_factory=PriorsConfig)
    prior_scale: float = 1.0
    # How eq. 1 is evaluated: a name registered in gplvm.model.forms.FORMS (woodbury: linear
    # kernel, O(N Q^2 + N Q D); dense: an O(N^3) Cholesky; sparse: the inducing-point lower bound
    # in O(N M^2 + N M D)).
    likelihood: str = "woodbury"
    jitter: float = 1e-6  # added to the diagonal, relative to the kernel's variance + bias
    num_inducing: int = 64  # sparse bound: M inducing inputs (at most N)
    inducing_init: InducingInit = InducingInit.random
    # gaussian, or counts with a log link (inference=svi): poisson, or negative_binomial with a
    # learned dispersion per column; beta is then unused
    noise: Noise = Noise.gaussian
    # counts: each row's total over the median row's total, as an offset (the library size)
    size_factors: bool = True
    # Several views (dataset.views): view name -> the settings that differ for that view's kernel,
    # e.g. {label: {kernel: linear}}; latent_dim and prior_scale are shared by every view
    views: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(self.latent_dim >= 1, "model.latent_dim", self.latent_dim, "it must be >= 1")
        positive_finite("model.prior_scale", self.prior_scale)
        for hyperparameter in HYPERPARAMETERS:
            hyperparameter.check_value(getattr(self, hyperparameter.name))
        require(
            math.isfinite(self.jitter) and 0 <= self.jitter < 1,
            "model.jitter",
            self.jitter,
            "it must lie in [0, 1)",
        )
        require(self.num_inducing >= 1, "model.num_inducing", self.num_inducing, "it must be >= 1")

    def for_view(self, name: str, defaults: dict | None = None) -> ModelConfig:
        """The model of view ``name``: this config with ``defaults`` (a view's own, e.g. a label
        view's) and then its settings in ``views`` applied."""
        overrides = self.views.get(name) or {}
        shared = sorted({"latent_dim", "prior_scale", "views"} & set(overrides))
        if shared:
            raise ConfigError(
                f"model.views.{name}.{shared[0]} cannot differ between views: set model.{shared[0]}"
            )
        base = OmegaConf.structured(self)
        base.views = {}
        try:
            return OmegaConf.to_object(OmegaConf.merge(base, defaults or {}, overrides))
        except OmegaConfBaseException as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(f"model.views.{name}: {first}") from None
