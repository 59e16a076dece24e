"""Evaluation schemas: held-out feature columns and K-fold cross-validation over the features."""

from __future__ import annotations

from dataclasses import dataclass

from gplvm.config.validation import require


@dataclass
class HeldoutConfig:
    """Hold out feature columns, fit Z on the rest, and score them under the fitted K.

    Each column of Y is an independent draw from N(0, K), so held-out columns are scored with the
    same Gaussian marginal likelihood. Unlike the training likelihood, the score cannot be
    inflated by more latent dimensions. ``fraction = 0`` turns it off.
    """

    fraction: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        require(0 <= self.fraction < 1, "heldout.fraction", self.fraction, "it must lie in [0, 1)")


@dataclass
class KFoldConfig:
    """Exact K-fold cross-validation over the feature columns: after the fit, ``folds`` refits,
    each holding out one seeded fold of the columns and scoring it by its log predictive density.
    ``folds = 0`` turns it off."""

    folds: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        require(self.folds == 0 or self.folds >= 2, "kfold.folds", self.folds, "it must be 0 (off) or >= 2")
