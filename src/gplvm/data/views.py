"""Views of a data set's columns (``dataset.views``): which columns each view holds, each view
scaled as a whole so that views in different units weigh alike."""

from __future__ import annotations

import numpy as np

from gplvm.errors import DataError

IMPLICIT_VIEW = "data"  # the view of every column when only a label view is named


def view_columns(spec: dict, names: list[str]) -> dict[str, np.ndarray]:
    """Each view's column indices from ``dataset.views``: a list of column names, or a
    ``"start:stop"`` slice of positions. Every column in at most one view; a one-line error
    naming the first bad entry."""
    out: dict[str, np.ndarray] = {}
    taken: dict[int, str] = {}
    position = {name: j for j, name in enumerate(names)}
    for view, columns in spec.items():
        if isinstance(columns, str) and ":" in columns:
            start, _, stop = columns.partition(":")
            try:
                indices = np.arange(len(names))[slice(int(start or 0), int(stop) if stop else None)]
            except ValueError:
                raise DataError(
                    f"dataset.views.{view}={columns!r} is not a start:stop slice of positions"
                ) from None
        else:
            columns = [columns] if isinstance(columns, str) else list(columns)
            unknown = [str(c) for c in columns if str(c) not in position]
            if unknown:
                raise DataError(
                    f"dataset.views.{view}: column {unknown[0]!r} is not a column of the data"
                    f" (columns: {', '.join(names[:6])}{', ...' if len(names) > 6 else ''})"
                )
            indices = np.array([position[str(c)] for c in columns], dtype=int)
        if not len(indices):
            raise DataError(f"dataset.views.{view}={columns!r} selects no column")
        for j in indices:
            if j in taken:
                raise DataError(
                    f"column {names[j]!r} is in views {taken[j]!r} and {view!r}: give each column one view"
                )
            taken[int(j)] = view
        out[str(view)] = np.asarray(indices, dtype=int)
    return out


def view_scales(Y: np.ndarray, views: dict[str, np.ndarray]) -> np.ndarray:
    """A per-column factor that divides each view by its overall sd, sqrt(mean column variance
    over its observed cells): views in different units then start on one footing."""
    factor = np.ones(Y.shape[1])
    for columns in views.values():
        sd = float(np.sqrt(np.nanmean(np.nanvar(Y[:, columns], axis=0))))
        factor[columns] = sd if sd > 0 else 1.0
    return factor
