"""Dataset schemas: the fields every dataset shares, and one schema per bundled dataset or file."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omegaconf import MISSING

from gplvm.config.validation import positive_finite, require


class MissingCells(StrEnum):
    """What a data file's missing cells (empty CSV cells, NaN, Parquet nulls) do: stop the run
    with an error naming the first, or stay missing (each column's likelihood then uses its
    observed rows, and the run writes the imputed table)."""

    error = "error"
    allow = "allow"


@dataclass
class DatasetConfig:
    """Fields every dataset shares."""

    name: str = MISSING
    standardize: bool = False  # divide each feature by its standard deviation after centring
    max_obs: int | None = None  # keep only the first max_obs rows (quick trials)
    missing: MissingCells = MissingCells.error  # allow: keep missing cells (NaN) and impute them
    # Several views of the same rows: view name -> its columns, as names or "start:stop" positions
    views: dict[str, Any] = field(default_factory=dict)  # empty: one view, every column
    # The labels as one more view, one-hot (a supervised or semi-supervised GPLVM): its name.
    # Rows without a label lack the view and get a predicted label and its probability.
    label_view: str | None = None
    hide_labels: float = 0.0  # share of the labelled rows whose label the label view leaves out
    hide_labels_seed: int = 0

    def __post_init__(self) -> None:
        if self.max_obs is not None:
            require(self.max_obs >= 2, "dataset.max_obs", self.max_obs, "it must be >= 2 or null")
        require(0 <= self.hide_labels < 1, "dataset.hide_labels", self.hide_labels, "it must lie in [0, 1)")
        if self.hide_labels > 0:
            require(
                self.label_view is not None,
                "dataset.hide_labels",
                self.hide_labels,
                "it hides labels from the label view: set dataset.label_view too",
            )

    @property
    def has_views(self) -> bool:
        """Several views (``views`` or a ``label_view``): the multi-view model fits it."""
        return bool(self.views) or self.label_view is not None


@dataclass
class SyntheticDatasetConfig(DatasetConfig):
    """Data drawn from the linear model itself: Y = Z W^T + noise, with known Z and beta."""

    name: str = "synthetic"
    n_obs: int = 100
    n_features: int = 10
    latent_dim: int = 2
    beta: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.n_obs >= 2, "dataset.n_obs", self.n_obs, "it must be >= 2")
        require(self.n_features >= 1, "dataset.n_features", self.n_features, "it must be >= 1")
        require(self.latent_dim >= 1, "dataset.latent_dim", self.latent_dim, "it must be >= 1")
        positive_finite("dataset.beta", self.beta)


@dataclass
class CurveDatasetConfig(DatasetConfig):
    """Points along a noisy circular arc (a 1-D curve), embedded in ``n_features`` dims.

    Projected onto one line (PCA, the linear GPLVM with Q = 1) the arc folds onto itself; a
    non-linear latent space can unroll it. Labels are ``n_segments`` equal pieces of the arc.
    """

    name: str = "curve"
    n_obs: int = 100
    n_features: int = 10
    arc_degrees: float = 300.0
    noise: float = 0.05  # sd of isotropic noise, relative to the radius 1
    n_segments: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.n_obs >= 2, "dataset.n_obs", self.n_obs, "it must be >= 2")
        require(self.n_features >= 2, "dataset.n_features", self.n_features, "it must be >= 2")
        require(
            0 < self.arc_degrees <= 360, "dataset.arc_degrees", self.arc_degrees, "it must lie in (0, 360]"
        )
        require(math.isfinite(self.noise) and self.noise >= 0, "dataset.noise", self.noise, "it must be >= 0")
        require(self.n_segments >= 1, "dataset.n_segments", self.n_segments, "it must be >= 1")


@dataclass
class CountsDatasetConfig(DatasetConfig):
    """Counts like single-cell data: Poisson (or negative-binomial) draws with mean s_n exp(b_d + f_d(z_n)).

    z_n ~ N(0, I) in 2-D (labels: ``n_sectors`` angular sectors of it), f_d a draw from an rbf
    GP (the model's own prior), b_d a column's log level and s_n a row's library size,
    log-normal with sd ``library_sd``. Z_true holds the 2-D latent.
    """

    name: str = "counts"
    n_obs: int = 2000
    n_features: int = 100
    n_sectors: int = 4
    library_sd: float = 0.5
    mean_count: float = 2.0  # a typical cell's count at the median library size
    dispersion: float | None = None  # negative-binomial r (variance mu + mu^2 / r); null: Poisson
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.n_obs >= 2, "dataset.n_obs", self.n_obs, "it must be >= 2")
        require(self.n_features >= 1, "dataset.n_features", self.n_features, "it must be >= 1")
        require(self.n_sectors >= 1, "dataset.n_sectors", self.n_sectors, "it must be >= 1")
        require(
            math.isfinite(self.library_sd) and self.library_sd >= 0,
            "dataset.library_sd",
            self.library_sd,
            "it must be >= 0",
        )
        positive_finite("dataset.mean_count", self.mean_count)
        if self.dispersion is not None:
            positive_finite("dataset.dispersion", self.dispersion)


@dataclass
class DigitsDatasetConfig(DatasetConfig):
    """scikit-learn's bundled 8x8 digits: 1797 x 64, labels 0-9."""

    name: str = "digits"


@dataclass
class IrisDatasetConfig(DatasetConfig):
    """scikit-learn's bundled iris: 150 x 4, three species."""

    name: str = "iris"


@dataclass
class FileDatasetConfig(DatasetConfig):
    """A user file: ``.csv`` with a header row, ``.parquet``, ``.npy`` (a 2-D array), ``.npz`` or
    ``.h5ad`` (AnnData: X or a layer, cells as rows)."""

    name: str = "file"
    path: str = MISSING
    label_column: str | None = None  # csv, parquet: a column name; npz: an array name; h5ad: obs column
    array: str = "Y"  # npz: the name of the data array
    layer: str | None = None  # h5ad: a layer instead of X (e.g. counts)
    # npy: leave the array on disk, read by rows (centred into a scratch file under TMPDIR)
    memory_map: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.memory_map:
            require(
                not self.has_views,
                "dataset.memory_map",
                self.memory_map,
                "views are scaled in memory: set dataset.memory_map=false, or drop dataset.views",
            )
            require(
                self.missing == MissingCells.error,
                "dataset.memory_map",
                self.memory_map,
                "a memory-mapped array cannot hold missing cells: set dataset.missing=error",
            )


DATASETS = {
    cls.name: cls
    for cls in (
        SyntheticDatasetConfig,
        CurveDatasetConfig,
        CountsDatasetConfig,
        DigitsDatasetConfig,
        IrisDatasetConfig,
        FileDatasetConfig,
    )
}
