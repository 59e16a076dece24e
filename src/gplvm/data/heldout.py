"""The held-out feature columns: a seeded split of Y's columns into fitted and held-out ones."""

from __future__ import annotations

import numpy as np

from gplvm.data.dataset import Dataset
from gplvm.errors import ConfigError


def split_features(data: Dataset, fraction: float, seed: int) -> tuple[Dataset, np.ndarray | None, list[str]]:
    """Hold out a seeded random ``fraction`` of the feature columns.

    Returns the training dataset, the held-out columns (N x D_h, or None when ``fraction`` is 0)
    and their names. At least one column is held out when ``fraction`` > 0, and at least one kept.
    """
    if fraction == 0:
        return data, None, []
    n_heldout = max(1, round(fraction * data.n_features))
    if n_heldout >= data.n_features:
        raise ConfigError(
            f"heldout.fraction={fraction} would hold out all {data.n_features} features; keep at least one"
        )
    held = np.sort(np.random.default_rng(seed).choice(data.n_features, size=n_heldout, replace=False))
    keep = np.setdiff1d(np.arange(data.n_features), held)
    names = [data.feature_names[j] for j in held]
    return data.with_features(keep), data.Y[:, held], names
