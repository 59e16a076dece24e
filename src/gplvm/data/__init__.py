"""Datasets: the bundled ones (synthetic, curve, digits, iris) and a loader for user files.

Every loader returns a :class:`Dataset` whose ``Y`` is float64 and column-centred, and finite
except for missing cells (NaN), which only ``dataset.missing=allow`` lets through.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from gplvm.config import (
    CurveDatasetConfig,
    DatasetConfig,
    DigitsDatasetConfig,
    FileDatasetConfig,
    IrisDatasetConfig,
    MissingCells,
    SyntheticDatasetConfig,
)
from gplvm.errors import ConfigError, DataError


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
    """

    name: str
    Y: np.ndarray
    feature_names: list[str]
    labels: np.ndarray | None = None
    Z_true: np.ndarray | None = None
    attrs: dict[str, str | int | float] = field(default_factory=dict)
    offset: np.ndarray | None = None
    scale: np.ndarray | None = None

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
        )

    @property
    def n_obs(self) -> int:
        return self.Y.shape[0]

    @functools.cached_property
    def n_missing(self) -> int:
        """How many cells of ``Y`` are missing (NaN); counted once (an O(N D) pass, asked for often)."""
        return int(np.count_nonzero(np.isnan(self.Y)))

    @property
    def n_features(self) -> int:
        return self.Y.shape[1]


def synthetic(cfg: SyntheticDatasetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw Y = Z W^T + noise with Z ~ N(0, I), W ~ N(0, I) and noise precision ``cfg.beta``.

    Each column of Y is then a draw from N(0, K) given Z, up to the scale of W.
    Returns Y, the latent positions Z and the seed-determined labels (the sign of Z[:, 0]).
    """
    rng = np.random.default_rng(cfg.seed)
    Z = rng.standard_normal((cfg.n_obs, cfg.latent_dim))
    W = rng.standard_normal((cfg.n_features, cfg.latent_dim))
    noise = rng.standard_normal((cfg.n_obs, cfg.n_features)) / np.sqrt(cfg.beta)
    labels = np.where(Z[:, 0] >= 0, "z0>=0", "z0<0")
    return Z @ W.T + noise, Z, labels


def curve(cfg: CurveDatasetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points at seeded random positions t along a circular arc of radius 1, plus noise.

    The arc lies in a random 2-D plane of the ``n_features``-dim space. Returns Y, the arc
    positions t in [0, 1] as Z_true (N x 1), and labels ``seg0``... numbering the equal segments.
    """
    rng = np.random.default_rng(cfg.seed)
    t = np.sort(rng.uniform(0.0, 1.0, cfg.n_obs))
    angle = np.deg2rad(cfg.arc_degrees) * t
    plane, _ = np.linalg.qr(rng.standard_normal((cfg.n_features, 2)))
    Y = np.column_stack([np.cos(angle), np.sin(angle)]) @ plane.T
    Y = Y + cfg.noise * rng.standard_normal(Y.shape)
    segment = np.minimum((t * cfg.n_segments).astype(int), cfg.n_segments - 1)
    return Y, t[:, None], np.array([f"seg{s}" for s in segment])


IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def _sklearn_data(name: str) -> Path:
    """A data file that scikit-learn ships (``sklearn/datasets/data/<name>``), found without importing it.

    Importing ``sklearn.datasets`` takes about half a second, longer than reading the file.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    path = Path(next(iter(spec.submodule_search_locations or []), "")) / "datasets" / "data" / name
    if not path.is_file():
        raise DataError(f"scikit-learn's bundled {name} is missing ({path}); reinstall scikit-learn")
    return path


def load_digits_array() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's 8x8 digits (1797 x 64) as (data, labels "0"-"9", feature names pixel_r_c)."""
    table = np.loadtxt(_sklearn_data("digits.csv.gz"), delimiter=",")
    names = [f"pixel_{row}_{col}" for row in range(8) for col in range(8)]
    return table[:, :-1], table[:, -1].astype(int).astype(str), names


def load_iris_array() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's iris (150 x 4) as (data, species names, feature names)."""
    path = _sklearn_data("iris.csv")
    with path.open() as fh:
        species = np.array(fh.readline().strip().split(",")[2:])
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, :-1], species[table[:, -1].astype(int)], list(IRIS_FEATURES)


# Cells that mean "missing" in a CSV (besides NaN spelled out): empty, NA, N/A, null.
_NAN_WORDS = ("nan", "+nan", "-nan", "", "na", "n/a", "null")


def _split_label(frame, path: Path, label_column: str | None):
    """(frame without the label column, labels or None)."""
    if label_column is None:
        return frame, None
    if label_column not in frame.columns:
        raise DataError(
            f"label_column {label_column!r} is not a column of {path}; columns are {list(frame.columns)}"
        )
    labels = frame[label_column].astype(str).str.strip().to_numpy()
    return frame.drop(columns=label_column), labels


def _ragged_row(path: Path) -> str | None:
    """The first row whose field count differs from the header's, as a message (pyarrow names no line)."""
    import csv

    with path.open(newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        for line, row in enumerate(rows, start=2):
            if any(cell.strip() for cell in row) and len(row) != len(header):
                return f"{path} line {line} has {len(row)} fields; the header has {len(header)}"
    return None


def _read_csv(path: Path, label_column: str | None) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """A CSV with a header row, parsed by pyarrow (through pandas) as text, then checked and converted."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; expected a header row and at least two data rows") from None
    except pd.errors.ParserError as exc:
        raise DataError(_ragged_row(path) or f"cannot read {path}: {str(exc).strip()}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    filled = frame.fillna("")
    frame = frame[(filled.apply(lambda col: col.str.strip()) != "").any(axis=1)]  # blank rows
    if frame.empty:
        raise DataError(f"{path} has a header but no data rows")
    frame, labels = _split_label(frame, path, label_column)
    # A writable copy: pandas may hand out read-only views, and prepare() centres in place.
    Y = np.array(frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float))
    text = frame.to_numpy(dtype=str)
    bad = np.isnan(Y) & ~np.isin(np.char.lower(np.char.strip(text)), _NAN_WORDS)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(
            f"{path} line {frame.index[i] + 2}, column {frame.columns[j]!r}:"
            f" {str(text[i, j])!r} is not a number"
            " (set dataset.label_column for a label column)"
        )
    return Y, labels, list(frame.columns)


def _read_parquet(path: Path, label_column: str | None) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """A Parquet table (pandas with pyarrow): numeric columns, plus an optional label column."""
    import pandas as pd

    frame, labels = _split_label(pd.read_parquet(path), path, label_column)
    frame.columns = [str(c) for c in frame.columns]
    for name, dtype in frame.dtypes.items():
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise DataError(
                f"{path}: column {name!r} holds {dtype}, not numbers"
                " (set dataset.label_column for a label column)"
            )
    if frame.empty:
        raise DataError(f"{path} has no data rows")
    return np.array(frame.to_numpy(dtype=float, na_value=np.nan)), labels, list(frame.columns)


def _read_npz(path: Path, array: str, label_column: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    with np.load(path, allow_pickle=False) as arrays:
        if array not in arrays:
            raise DataError(f"{path} has no array {array!r} (dataset.array); it has {sorted(arrays.files)}")
        Y = arrays[array]
        labels = None
        if label_column is not None:
            if label_column not in arrays:
                raise DataError(
                    f"{path} has no array {label_column!r} (label_column); it has {sorted(arrays.files)}"
                )
            labels = np.asarray(arrays[label_column]).astype(str)
    return Y, labels


def read_file(cfg: FileDatasetConfig) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Read a ``.csv`` (header row), ``.parquet``, ``.npy`` or ``.npz`` file: raw data, labels, names."""
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise DataError(f"dataset.path={cfg.path!r}: no such file")
    suffix = path.suffix.lower()
    names = None
    try:
        if suffix == ".csv":
            Y, labels, names = _read_csv(path, cfg.label_column)
        elif suffix == ".parquet":
            Y, labels, names = _read_parquet(path, cfg.label_column)
        elif suffix == ".npz":
            Y, labels = _read_npz(path, cfg.array, cfg.label_column)
        elif suffix == ".npy":
            if cfg.label_column is not None:
                raise DataError(
                    "dataset.label_column needs a .csv, .parquet or .npz file; a .npy file holds one array"
                )
            Y, labels = np.load(path, allow_pickle=False), None
        else:
            raise DataError(
                f"dataset.path={cfg.path!r}: unsupported file type {suffix!r};"
                " use .csv, .parquet, .npy or .npz"
            )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if Y.ndim != 2:
        raise DataError(f"{path}: expected a 2-D array (observations x features), got shape {Y.shape}")
    if not np.issubdtype(Y.dtype, np.number) or np.issubdtype(Y.dtype, np.complexfloating):
        raise DataError(f"{path}: the data array has dtype {Y.dtype}; expected real numbers")
    if labels is not None and len(labels) != Y.shape[0]:
        raise DataError(f"{path}: {len(labels)} labels for {Y.shape[0]} observations")
    return Y.astype(float, copy=False), labels, names


def _check_missing(missing: np.ndarray, source: str, allow: bool, names: list[str] | None) -> None:
    """Refuse missing cells unless ``allow``; even then, a row or a column with no observed cell."""
    if not missing.any():
        return
    if not allow:
        i, j = np.argwhere(missing)[0]
        raise DataError(
            f"{source}: {int(missing.sum())} missing (NaN) value(s), first at row {i}, column {j};"
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
            f"{source}: row {int(empty_rows[0])} has no observed value ({len(empty_rows)} such); drop it"
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


def load_dataset(cfg: DatasetConfig) -> Dataset:
    """Load the dataset that ``cfg`` names and return it centred.

    Raises
    ------
    DataError
        If a file is missing, empty, non-numeric or holds NaN or infinite values.
    """
    Z_true = None
    names = None
    attrs: dict[str, str | int | float] = {}
    if isinstance(cfg, SyntheticDatasetConfig):
        Y, Z_true, labels = synthetic(cfg)
        attrs = {"true_latent_dim": cfg.latent_dim, "true_beta": cfg.beta, "data_seed": cfg.seed}
    elif isinstance(cfg, CurveDatasetConfig):
        Y, Z_true, labels = curve(cfg)
        attrs = {"arc_degrees": cfg.arc_degrees, "noise": cfg.noise, "data_seed": cfg.seed}
    elif isinstance(cfg, DigitsDatasetConfig):
        Y, labels, names = load_digits_array()
    elif isinstance(cfg, IrisDatasetConfig):
        Y, labels, names = load_iris_array()
    elif isinstance(cfg, FileDatasetConfig):
        Y, labels, names = read_file(cfg)
        attrs = {"path": str(Path(cfg.path).expanduser().resolve())}
    else:
        raise DataError(f"unknown dataset config {type(cfg).__name__}")
    if cfg.max_obs is not None:
        Y = Y[: cfg.max_obs]
        labels = None if labels is None else labels[: cfg.max_obs]
        Z_true = None if Z_true is None else Z_true[: cfg.max_obs]
    allow = cfg.missing == MissingCells.allow
    Y, offset, scale = prepare(Y, f"dataset {cfg.name}", cfg.standardize, allow, names)
    names = names or [f"x{j}" for j in range(Y.shape[1])]
    return Dataset(cfg.name, Y, list(names), labels, Z_true, attrs, offset, scale)


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
