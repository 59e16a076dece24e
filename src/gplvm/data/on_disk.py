"""Data that stay on disk (``dataset.memory_map``): a ``.npy`` array mapped read-only, checked and
centred by chunks of rows into a scratch file, so that no N x D array is ever held in memory.

The centred copy is a memory-mapped temporary file under ``TMPDIR`` (deleted when the process
ends, also on an interrupt), so every consumer reads Y as an ordinary array while the operating
system pages rows in and out. The file as read stays mapped as ``Dataset.raw``: a count
likelihood reads its counts from there, exactly as written.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from gplvm.errors import DataError

CHUNK_BYTES = 16 * 2**20  # each chunk of rows: about 16 MiB of float64 (its temporaries several times that)


def row_chunks(shape: tuple[int, ...], chunk_bytes: int | None = None) -> Iterator[slice]:
    """Slices of consecutive rows of an array of ``shape``, each about ``chunk_bytes`` (by default
    ``CHUNK_BYTES``) as float64."""
    n_obs = shape[0]
    width = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    step = max(1, (chunk_bytes or CHUNK_BYTES) // (8 * max(width, 1)))
    for first in range(0, n_obs, step):
        yield slice(first, min(first + step, n_obs))


def per_row(function: Callable[[np.ndarray], np.ndarray], array: np.ndarray) -> np.ndarray:
    """``function`` (of a float64 block of rows, one value per row) over all rows of ``array``, by chunks."""
    return np.concatenate(
        [function(np.asarray(array[rows], dtype=float)) for rows in row_chunks(array.shape)]
    )


def column_totals(function: Callable[[slice], np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Each column's sum over all rows of ``function(rows)`` (a block of rows of an array of
    ``shape``, or a function of them), by chunks of rows."""
    total = np.zeros(shape[1])
    for rows in row_chunks(shape):
        total += function(rows).sum(axis=0)
    return total


def map_npy(path: Path) -> np.ndarray:
    """A ``.npy`` file's array, mapped read-only (nothing is read until it is indexed)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot map {path}: {exc}") from None


def centre_on_disk(
    raw: np.ndarray, source: str, standardize: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``raw`` checked (finite, at least 2 x 1) and centred (and standardised when asked) by chunks of
    rows into a scratch memory map: (Y, offset, scale) with Y = (raw - offset) / scale, as
    :func:`gplvm.data.dataset.prepare` returns them for data in memory."""
    if raw.ndim != 2 or raw.shape[0] < 2 or raw.shape[1] < 1:
        raise DataError(f"{source}: need at least 2 observations and 1 feature, got shape {raw.shape}")
    n_obs, n_features = raw.shape
    total = np.zeros(n_features)
    for rows in row_chunks(raw.shape):
        block = np.asarray(raw[rows], dtype=float)
        finite = np.isfinite(block)
        if not finite.all():
            i, j = (int(k) for k in np.argwhere(~finite)[0])
            kind = "a missing (NaN)" if np.isnan(block[i, j]) else "an infinite"
            raise DataError(
                f"{source}: {kind} value at row {rows.start + i}, column {j} (counting from 0);"
                " a memory-mapped array must be complete and finite: remove or replace it"
            )
        total += block.sum(axis=0)
    offset = total / n_obs
    scale = np.ones(n_features)
    if standardize:
        squares = column_totals(lambda rows: (np.asarray(raw[rows], dtype=float) - offset) ** 2, raw.shape)
        sd = np.sqrt(squares / n_obs)
        scale = np.where(sd > 0, sd, 1.0)  # constant columns stay zero
    # The map keeps the scratch file alive after it is closed; it is gone once the map is.
    with tempfile.TemporaryFile(prefix="gplvm-centred-", suffix=".f64") as scratch:
        Y = np.memmap(scratch, dtype=np.float64, mode="w+", shape=(n_obs, n_features))
    for rows in row_chunks(raw.shape):
        Y[rows] = (np.asarray(raw[rows], dtype=float) - offset) / scale
    Y.flush()
    return Y, offset, scale


def count_nan(Y: np.ndarray) -> int:
    """How many cells of ``Y`` are NaN, counted by chunks of rows."""
    return sum(int(np.count_nonzero(np.isnan(Y[rows]))) for rows in row_chunks(Y.shape))
