"""The :class:`Dataset`: centred data with names for every axis, and how its loaders check and centre it.

Every loader returns a Dataset whose ``Y`` is float64 and column-centred, and finite except for
missing cells (NaN), which only ``dataset.missing=allow`` lets through.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import numpy as np

from gplvm.data.label_view import LabelView
from gplvm.data.on_disk import count_nan
from gplvm.errors import DataError


@dataclass(frozen=True)
class Dataset:
    """Centred data with names for every axis.

    Attributes
    ----------
    name : str
        Dataset name, recorded in the run's attributes.
    Y : ndarray, shape (N, D)
        Column-centred data (and scaled to unit variance when asked); NaN marks a missing cell.
    feature_names : list of str
        One name per column of ``Y``.
    labels : ndarray of str, shape (N,), or None
        Class labels used to colour plots, when the data has them.
    Z_true : ndarray, shape (N, Q_true), or None
        The latent positions that generated synthetic data.
    offset, scale : ndarray, shape (D,), or None
        How ``Y`` was made from the raw columns: Y = (raw - offset) / scale (scale 1 unless
        standardised). None when unknown.
    raw : ndarray, shape (N, D), or None
        The values as read, kept when some cells are missing, so that imputed files repeat the
        observed cells exactly rather than through the centring and back; with
        ``dataset.memory_map``, the mapped file (counts are read from it).
    covariates : dict of str to ndarray, or None
        Columns of the data file kept out of Y, as text (the GP latent prior's inputs and group).
    views : dict of str to ndarray, or None
        ``dataset.views``: each view's column indices into ``Y``.
    label_view : LabelView or None
        ``dataset.label_view``: the view of one-hot label columns (appended to ``Y``), its classes
        and the rows that lack it.
    """

    name: str
    Y: np.ndarray
    feature_names: list[str]
    labels: np.ndarray | None = None
    Z_true: np.ndarray | None = None
    attrs: dict[str, str | int | float] = field(default_factory=dict)
    offset: np.ndarray | None = None
    scale: np.ndarray | None = None
    raw: np.ndarray | None = None
    covariates: dict[str, np.ndarray] | None = None
    views: dict[str, np.ndarray] | None = None
    label_view: LabelView | None = None

    def to_original_units(self, values: np.ndarray) -> np.ndarray:
        """Rows in the fitted units (centred, maybe scaled) back in the raw columns' units."""
        if self.offset is None or self.scale is None:
            raise ValueError(f"the {self.name} dataset does not record its centring")
        return np.asarray(values) * self.scale + self.offset

    def with_features(self, columns: np.ndarray) -> Dataset:
        """The dataset restricted to the feature columns ``columns`` (indices), names and units kept."""
        return replace(
            self,
            Y=self.Y[:, columns],
            feature_names=[self.feature_names[j] for j in columns],
            offset=None if self.offset is None else self.offset[columns],
            scale=None if self.scale is None else self.scale[columns],
            raw=None if self.raw is None else self.raw[:, columns],
        )

    @property
    def n_obs(self) -> int:
        return self.Y.shape[0]

    @functools.cached_property
    def n_missing(self) -> int:
        """How many cells of ``Y`` are missing (NaN); counted once (an O(N D) pass, asked for often)."""
        return count_nan(self.Y)

    @property
    def n_features(self) -> int:
        return self.Y.shape[1]


def _check_missing(missing: np.ndarray, source: str, allow: bool, names: list[str] | None) -> None:
    """Refuse missing cells unless ``allow``; even then, a row or a column with no observed cell."""
    if not missing.any():
        return
    if not allow:
        i, j = np.argwhere(missing)[0]
        raise DataError(
            f"{source}: {int(missing.sum())} missing (NaN) value(s), first at row {i}, column {j}"
            " (counting from 0);"
            " set dataset.missing=allow to model and impute them, or remove them"
        )
    empty_cols = np.flatnonzero(missing.all(axis=0))
    if len(empty_cols):
        j = int(empty_cols[0])
        name = f"{names[j]!r}" if names and j < len(names) else f"{j}"
        raise DataError(f"{source}: column {name} has no observed value ({len(empty_cols)} such); drop it")
    empty_rows = np.flatnonzero(missing.all(axis=1))
    if len(empty_rows):
        raise DataError(
            f"{source}: row {int(empty_rows[0])} (counting from 0) has no observed value"
            f" ({len(empty_rows)} such); drop it"
        )


def prepare(
    Y: np.ndarray,
    source: str,
    standardize: bool,
    allow_missing: bool = False,
    names: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check that ``Y`` is usable and return it centred (and standardised when asked), with the
    column offsets and scales used: Y = (raw - offset) / scale.

    Missing cells (NaN) are refused unless ``allow_missing``; then they stay NaN and the means
    and standard deviations are those of each column's observed cells. Infinite values are always
    refused. Works in place on a float64 ``Y`` (the loaders' own arrays): at 10^6 rows every copy
    of Y is half a gigabyte.
    """
    if Y.shape[0] < 2 or Y.shape[1] < 1:
        raise DataError(f"{source}: need at least 2 observations and 1 feature, got shape {Y.shape}")
    infinite = np.isinf(Y)
    if infinite.any():
        i, j = np.argwhere(infinite)[0]
        raise DataError(
            f"{source}: {int(infinite.sum())} infinite value(s), first at row {i}, column {j};"
            " remove or replace them first"
        )
    missing = np.isnan(Y)
    _check_missing(missing, source, allow_missing, names)
    Y = np.asarray(Y, dtype=float)
    offset = np.nanmean(Y, axis=0) if missing.any() else Y.mean(axis=0)
    Y -= offset
    scale = np.ones(Y.shape[1])
    if standardize:
        sd = np.nanstd(Y, axis=0) if missing.any() else Y.std(axis=0)
        scale = np.where(sd > 0, sd, 1.0)  # constant columns stay zero
        Y /= scale
    return Y, offset, scale
