"""User data files: ``.csv`` with a header row, ``.parquet``, ``.npy`` (a 2-D array), ``.npz`` or
``.h5ad`` (AnnData), with an optional label column; every problem is one DataError line."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gplvm.config import FileDatasetConfig
from gplvm.data.h5ad import read_h5ad, read_obs_columns
from gplvm.data.on_disk import map_npy
from gplvm.errors import DataError

_NAN_WORDS = ("nan", "+nan", "-nan", "", "na", "n/a", "null")


def _split_label(frame, path: Path, label_column: str | None, exclude: Sequence[str] = ()):
    """(frame without the label column and the ``exclude`` columns, labels or None)."""
    for column in exclude:
        if column not in frame.columns:
            raise DataError(f"column {column!r} is not a column of {path}; columns are {list(frame.columns)}")
    frame = frame.drop(columns=[c for c in exclude if c != label_column])
    if label_column is None:
        return frame, None
    if label_column not in frame.columns:
        raise DataError(
            f"label_column {label_column!r} is not a column of {path}; columns are {list(frame.columns)}"
        )
    labels = frame[label_column].astype(str).str.strip().to_numpy()
    return frame.drop(columns=label_column), labels


def read_columns(path: Path, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Named columns of a ``.csv`` or ``.parquet`` table, or ``obs`` columns of an ``.h5ad`` file,
    as text (covariates, groups), stripped."""
    suffix = path.suffix.lower()
    if suffix == ".h5ad":
        return read_obs_columns(path, columns)
    if suffix not in (".csv", ".parquet"):
        raise DataError(f"{path}: covariate columns need a .csv, .parquet or .h5ad file with named columns")
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")
        frame.columns = [str(c).strip() for c in frame.columns]
    else:
        frame = pd.read_parquet(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"column {missing[0]!r} is not a column of {path}; columns are {list(frame.columns)}")
    return {c: frame[c].astype(str).str.strip().to_numpy() for c in columns}


def _ragged_row(path: Path) -> str | None:
    """The first row whose field count differs from the header's, as a message (pyarrow names no line)."""
    with path.open(newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        for line, row in enumerate(rows, start=2):
            if any(cell.strip() for cell in row) and len(row) != len(header):
                return f"{path} line {line} has {len(row)} fields; the header has {len(header)}"
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in _NAN_WORDS


def _first_row(path: Path) -> list[str]:
    with path.open(newline="") as fh:
        return next(csv.reader(fh), [])


def _all_numbers(row: list[str]) -> bool:
    """Whether a CSV row is all numbers: as a first line, a file without a header row."""
    return bool(row) and all(_is_number(cell) for cell in row)


def column_names(path: Path) -> list[str] | None:
    """A table's column names (CSV header, Parquet schema, npz arrays); None without a header row."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        first = _first_row(path)
        return None if _all_numbers(first) else [cell.strip() for cell in first]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            return list(arrays.files)
    return None


def _read_csv(
    path: Path, label_column: str | None, headerless: bool = False, exclude: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """A CSV with a header row, parsed by pyarrow (through pandas) as text, then checked and converted.

    A first line of numbers is refused (it would be taken as column names, losing a row), unless
    ``headerless``: then the columns are read by position and no names are returned.
    """
    no_header = _all_numbers(_first_row(path))
    if no_header and not headerless:
        raise DataError(
            f"{path} line 1 is all numbers, not a header row of column names; add one"
            " (e.g. x0,x1,...), since a first line is read as the names"
        )
    if no_header and label_column is not None:
        raise DataError(f"{path} has no header row, so it has no label column {label_column!r}")
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, engine="pyarrow", header=None if no_header else "infer"
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; expected a header row and at least two data rows") from None
    except pd.errors.ParserError as exc:
        raise DataError(_ragged_row(path) or f"cannot read {path}: {str(exc).strip()}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    line_offset = 1 if no_header else 2
    if frame.empty:
        raise DataError(f"{path} has a header but no data rows")
    frame, labels = _split_label(frame, path, label_column, exclude)
    # A writable copy: pandas may hand out read-only views, and prepare() centres in place.
    Y = np.array(frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float))
    text = frame.to_numpy(dtype=str)
    bad = np.isnan(Y) & ~np.isin(np.char.lower(np.char.strip(text)), _NAN_WORDS)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(
            f"{path} line {frame.index[i] + line_offset}, column {frame.columns[j]!r}:"
            f" {str(text[i, j])!r} is not a number"
            " (set dataset.label_column for a label column)"
        )
    empty = np.flatnonzero(np.isnan(Y).all(axis=1)) if Y.shape[1] else np.array([], int)
    if len(empty):  # a row of empty cells: refused, not dropped, so that outputs keep the file's rows
        raise DataError(
            f"{path} line {frame.index[empty[0]] + line_offset} has no observed value"
            f" ({len(empty)} such rows); drop it, or give it at least one value"
        )
    return Y, labels, None if no_header else list(frame.columns)


def _read_parquet(
    path: Path, label_column: str | None, exclude: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """A Parquet table (pandas with pyarrow): numeric columns, plus an optional label column."""
    frame, labels = _split_label(pd.read_parquet(path), path, label_column, exclude)
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


def read_file(
    cfg: FileDatasetConfig, headerless: bool = False, exclude: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Read a ``.csv`` (header row), ``.parquet``, ``.npy``, ``.npz`` or ``.h5ad`` file: raw data,
    labels, names. With ``dataset.memory_map`` the ``.npy`` array is mapped read-only, in its own dtype.

    ``headerless`` accepts a CSV without a header row (names None); otherwise it is refused.
    ``exclude`` names columns kept out of the data (covariates; read by :func:`read_columns`).
    """
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise DataError(f"dataset.path={cfg.path!r}: no such file")
    suffix = path.suffix.lower()
    names = None
    if cfg.layer is not None and suffix != ".h5ad":
        raise DataError(f"dataset.layer={cfg.layer!r} names a layer of an .h5ad file; {path.name} is not one")
    if cfg.memory_map and suffix != ".npy":
        raise DataError(
            f"dataset.memory_map=true maps a .npy file; {path.name} is not one"
            " (save the array with numpy.save)"
        )
    try:
        if suffix == ".csv":
            Y, labels, names = _read_csv(path, cfg.label_column, headerless, exclude)
        elif suffix == ".parquet":
            Y, labels, names = _read_parquet(path, cfg.label_column, exclude)
        elif suffix == ".npz":
            Y, labels = _read_npz(path, cfg.array, cfg.label_column)
        elif suffix == ".h5ad":
            Y, labels, names = read_h5ad(path, cfg.layer, cfg.label_column)
        elif suffix == ".npy":
            if cfg.label_column is not None:
                raise DataError(
                    "dataset.label_column needs a .csv, .parquet or .npz file; a .npy file holds one array"
                )
            Y, labels = (map_npy(path) if cfg.memory_map else np.load(path, allow_pickle=False)), None
        else:
            raise DataError(
                f"dataset.path={cfg.path!r}: unsupported file type {suffix!r};"
                " use .csv, .parquet, .npy, .npz or .h5ad"
            )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if Y.ndim != 2:
        raise DataError(f"{path}: expected a 2-D array (observations x features), got shape {Y.shape}")
    if not np.issubdtype(Y.dtype, np.number) or np.issubdtype(Y.dtype, np.complexfloating):
        raise DataError(f"{path}: the data array has dtype {Y.dtype}; expected real numbers")
    if labels is not None and len(labels) != Y.shape[0]:
        raise DataError(f"{path}: {len(labels)} labels for {Y.shape[0]} observations")
    return (Y if cfg.memory_map else Y.astype(float, copy=False)), labels, names
