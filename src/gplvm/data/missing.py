"""Missing cells: NaN in Y marks them, and each column's likelihood uses only its observed rows.

Given the latents the columns of Y are independent, so a column with missing cells contributes the
Gaussian density of its observed rows alone: log N(y_O | 0, K_OO). Columns that miss the same rows
share K_OO and its factorisation; :func:`column_groups` finds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def has_missing(Y: np.ndarray) -> bool:
    """Whether any cell of ``Y`` is missing (NaN)."""
    return bool(np.isnan(Y).any())


def filled(Y: np.ndarray, value: float = 0.0) -> np.ndarray:
    """A copy of ``Y`` with ``value`` in the missing cells (0 is the column mean of centred data)."""
    return np.where(np.isnan(Y), value, Y)


@dataclass(frozen=True)
class ColumnGroup:
    """Columns ``cols`` that are observed in exactly the rows ``rows``."""

    rows: np.ndarray
    cols: np.ndarray


def column_groups(observed: np.ndarray) -> list[ColumnGroup]:
    """Columns grouped by the set of rows in which they are observed (``observed``: bool, N x D).

    Complete data gives one group holding every column. O(N D log D).
    """
    patterns, which = np.unique(observed.T, axis=0, return_inverse=True)
    which = np.ravel(which)
    return [
        ColumnGroup(np.flatnonzero(pattern), np.flatnonzero(which == g)) for g, pattern in enumerate(patterns)
    ]


def by_column_groups(Y: np.ndarray, per_group) -> np.ndarray:
    """Assemble a per-column result (D,) from ``per_group(rows, Y[rows][:, cols])`` for each group."""
    out = np.empty(Y.shape[1])
    for group in column_groups(~np.isnan(Y)):
        out[group.cols] = per_group(group.rows, Y[np.ix_(group.rows, group.cols)])
    return out
