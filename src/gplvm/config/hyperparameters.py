"""The hyperparameters, declared once: name, default value, learn flag, prior and valid range.

``model.<name>``, ``model.learn.<name>`` and ``model.priors.<name>`` are all made from
:data:`HYPERPARAMETERS`, so a new hyperparameter is one entry here (and the kernels that use it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, make_dataclass, replace
from enum import StrEnum

from gplvm.config.validation import non_negative_finite, positive_finite, require


class PriorDist(StrEnum):
    """Prior of a learned positive hyperparameter."""

    lognormal = "lognormal"  # log(theta) ~ Normal(mu, sigma)
    halfnormal = "halfnormal"  # theta ~ |Normal(0, sigma)|


@dataclass
class PriorConfig:
    """Prior of one hyperparameter, used when it is learned."""

    dist: PriorDist = PriorDist.lognormal
    mu: float = 0.0  # lognormal only: the mean of log(theta)
    sigma: float = 1.0  # lognormal: the sd of log(theta); halfnormal: the scale

    def check(self, key: str) -> None:
        """Raise a ConfigError naming ``key`` (e.g. ``model.priors.beta``) for a bad value."""
        require(math.isfinite(self.mu), f"{key}.mu", self.mu, "it must be finite")
        positive_finite(f"{key}.sigma", self.sigma)
        require(
            self.dist == PriorDist.lognormal or self.mu == 0,
            f"{key}.mu",
            self.mu,
            "a halfnormal prior has no mu; leave it at 0 or use dist=lognormal",
        )


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of K = k(Z) + beta^-1 I.

    Attributes
    ----------
    name : str
        The key under ``model``, ``model.learn`` and ``model.priors``.
    default : float
        Its fixed value, or its starting value when learned.
    prior : PriorConfig
        Its default prior when learned.
    may_be_zero : bool
        Whether 0 is a valid fixed value (then a learned one must still start above 0).
    """

    name: str
    default: float
    prior: PriorConfig
    may_be_zero: bool = False

    def check_value(self, value: float) -> None:
        """Raise a ConfigError for a value out of range."""
        check = non_negative_finite if self.may_be_zero else positive_finite
        check(f"model.{self.name}", value)


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    # Noise precision. Priors are wide: the data set the scale of beta and variance.
    Hyperparameter("beta", 1.0, PriorConfig(sigma=3.0)),
    # Signal variance of stationary kernels.
    Hyperparameter("variance", 1.0, PriorConfig(sigma=3.0)),
    # Length scale (ARD: the start of every dim). Z ~ Normal(0, 1) sets the latent scale, so
    # length scales near 1 are the plausible ones.
    Hyperparameter("lengthscale", 1.0, PriorConfig()),
    # Constant added to every entry of k.
    Hyperparameter("bias", 0.0, PriorConfig(PriorDist.halfnormal), may_be_zero=True),
)
HYPERPARAMETER_NAMES: tuple[str, ...] = tuple(h.name for h in HYPERPARAMETERS)

LearnConfig = make_dataclass(
    "LearnConfig",
    [(h.name, bool, False) for h in HYPERPARAMETERS],
    namespace={"__doc__": "Which hyperparameters are learned (true) or fixed at their configured value."},
    module=__name__,
)
PriorsConfig = make_dataclass(
    "PriorsConfig",
    [(h.name, PriorConfig, field(default_factory=lambda h=h: replace(h.prior))) for h in HYPERPARAMETERS],
    namespace={"__doc__": "Priors of the hyperparameters, used for the learned ones."},
    module=__name__,
)


def with_hyperparameter_values(cls: type) -> type:
    """Add one float field per hyperparameter (its fixed or starting value) to a config class.

    Apply it under ``@dataclass``; the fields come after the class's own.
    """
    for h in HYPERPARAMETERS:
        cls.__annotations__[h.name] = float
        setattr(cls, h.name, h.default)
    return cls
