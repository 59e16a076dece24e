"""The labels as a view (``dataset.label_view``): one-hot columns, one per class.

Fitted beside the data's own views, the label view makes the GPLVM supervised where rows carry a
label and semi-supervised where they do not: a row without a label (an empty or NaN cell in the
label column, or hidden by ``dataset.hide_labels``) lacks the whole view, contributes nothing to
its bound, and gets a predicted label from its place in the shared latent space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gplvm.errors import DataError

_NO_LABEL = frozenset({"", "nan", "none", "na", "n/a", "null"})


@dataclass(frozen=True)
class LabelView:
    """Which view holds the labels, its classes (one column each) and what it leaves out.

    Attributes
    ----------
    name : str
        The view's name (its columns are ``<name>=<class>``).
    classes : list of str
        The classes in column order.
    hidden : ndarray of bool, shape (N,)
        Rows whose known label the view leaves out (``dataset.hide_labels``), to score predictions.
    unlabelled : ndarray of bool, shape (N,)
        Rows without the view: no label in the data, or hidden.
    """

    name: str
    classes: list[str]
    hidden: np.ndarray
    unlabelled: np.ndarray

    def column_names(self) -> list[str]:
        return [f"{self.name}={c}" for c in self.classes]


def has_label(labels: np.ndarray) -> np.ndarray:
    """Which rows carry a label (not empty, NaN or a word for none)."""
    return np.array([str(x).strip().lower() not in _NO_LABEL for x in labels], dtype=bool)


def one_hot_view(
    labels: np.ndarray | None, name: str, hide: float, seed: int, source: str
) -> tuple[np.ndarray, LabelView]:
    """One-hot labels (N x classes, NaN rows where the view is missing) and the :class:`LabelView`.

    ``hide`` of the labelled rows, chosen with ``seed``, are left out (at least one when > 0).
    """
    if labels is None:
        raise DataError(
            f"dataset.label_view={name!r}: {source} has no labels"
            " (files: set dataset.label_column to the column that holds them)"
        )
    labels = np.asarray(labels).astype(str)
    labelled = has_label(labels)
    classes = sorted(set(labels[labelled]))
    if len(classes) < 2:
        raise DataError(
            f"dataset.label_view={name!r}: {source} has {len(classes)} class(es) among its labels;"
            " a label view needs at least 2"
        )
    hidden = np.zeros(len(labels), dtype=bool)
    if hide > 0:
        rows = np.flatnonzero(labelled)
        n_hidden = max(1, round(hide * len(rows)))
        hidden[np.random.default_rng(seed).choice(rows, size=n_hidden, replace=False)] = True
    unlabelled = ~labelled | hidden
    if unlabelled.all():
        raise DataError(f"dataset.label_view={name!r}: no row keeps its label; lower dataset.hide_labels")
    onehot = (labels[:, None] == np.asarray(classes)[None, :]).astype(float)
    onehot[unlabelled] = np.nan
    return onehot, LabelView(name, classes, hidden, unlabelled)
