"""Load the dataset that a config names, centred: :func:`load_dataset`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gplvm.config import (
    CountsDatasetConfig,
    CurveDatasetConfig,
    DatasetConfig,
    DigitsDatasetConfig,
    FileDatasetConfig,
    IrisDatasetConfig,
    MissingCells,
    SyntheticDatasetConfig,
)
from gplvm.data.bundled import counts, curve, load_digits_array, load_iris_array, synthetic
from gplvm.data.dataset import Dataset, prepare
from gplvm.data.files import read_columns, read_file
from gplvm.data.label_view import one_hot_view
from gplvm.data.on_disk import centre_on_disk
from gplvm.data.views import IMPLICIT_VIEW, view_columns, view_scales
from gplvm.errors import DataError


def load_dataset(cfg: DatasetConfig, covariates: Sequence[str] = ()) -> Dataset:
    """Load the dataset that ``cfg`` names and return it centred.

    ``covariates`` names columns of a data file taken out of Y and kept, as text, in
    ``Dataset.covariates`` (the GP latent prior's inputs and group).

    Raises
    ------
    DataError
        If a file is missing, empty, non-numeric or holds NaN or infinite values.
    """
    Z_true = None
    names = None
    extra = None
    if covariates and not isinstance(cfg, FileDatasetConfig):
        raise DataError(
            f"covariate columns {list(covariates)} need dataset=file with those columns;"
            f" the {cfg.name} dataset has none"
        )
    attrs: dict[str, str | int | float] = {}
    if isinstance(cfg, SyntheticDatasetConfig):
        Y, Z_true, labels = synthetic(cfg)
        attrs = {"true_latent_dim": cfg.latent_dim, "true_beta": cfg.beta, "data_seed": cfg.seed}
    elif isinstance(cfg, CurveDatasetConfig):
        Y, Z_true, labels = curve(cfg)
        attrs = {"arc_degrees": cfg.arc_degrees, "noise": cfg.noise, "data_seed": cfg.seed}
    elif isinstance(cfg, CountsDatasetConfig):
        Y, Z_true, labels = counts(cfg)
        attrs = {"library_sd": cfg.library_sd, "data_seed": cfg.seed}
    elif isinstance(cfg, DigitsDatasetConfig):
        Y, labels, names = load_digits_array()
    elif isinstance(cfg, IrisDatasetConfig):
        Y, labels, names = load_iris_array()
    elif isinstance(cfg, FileDatasetConfig):
        Y, labels, names = read_file(cfg, exclude=covariates)
        attrs = {"path": str(Path(cfg.path).expanduser().resolve())}
        extra = read_columns(Path(cfg.path).expanduser(), covariates) if covariates else None
    else:
        raise DataError(f"unknown dataset config {type(cfg).__name__}")
    if cfg.max_obs is not None:
        Y = Y[: cfg.max_obs]
        labels = None if labels is None else labels[: cfg.max_obs]
        Z_true = None if Z_true is None else Z_true[: cfg.max_obs]
        extra = None if extra is None else {k: v[: cfg.max_obs] for k, v in extra.items()}
    allow = cfg.missing == MissingCells.allow
    if isinstance(cfg, FileDatasetConfig) and cfg.memory_map:  # raw stays mapped: counts read from it
        raw = Y
        Y, offset, scale = centre_on_disk(raw, f"dataset {cfg.name}", cfg.standardize)
    else:
        raw = np.array(Y, dtype=float) if allow and np.isnan(Y).any() else None  # prepare() works in place
        Y, offset, scale = prepare(Y, f"dataset {cfg.name}", cfg.standardize, allow, names)
    names = list(names or [f"x{j}" for j in range(Y.shape[1])])
    views, label_view = None, None
    if cfg.has_views:  # each view scaled as a whole: raw = Y * scale + offset still
        spec = dict(cfg.views) or {IMPLICIT_VIEW: f"0:{Y.shape[1]}"}
        views = view_columns(spec, names)
        if cfg.label_view is not None:
            Y, names, offset, scale, raw, label_view = _with_label_view(
                cfg, Y, names, labels, offset, scale, raw, views
            )
        factor = view_scales(Y, views)
        Y /= factor
        scale = scale * factor
    return Dataset(cfg.name, Y, names, labels, Z_true, attrs, offset, scale, raw, extra, views, label_view)


def _with_label_view(cfg: DatasetConfig, Y, names, labels, offset, scale, raw, views: dict):
    """Y, names, offset, scale and raw with the one-hot label columns appended (centred over
    the labelled rows), ``views`` given the label view, and its :class:`LabelView`."""
    name = cfg.label_view
    if name in views:
        implicit = " (the view of every column when dataset.views is empty)" if name == IMPLICIT_VIEW else ""
        raise DataError(
            f"dataset.label_view={name!r} is already the name of a view of the data{implicit};"
            " give the label view another name"
        )
    onehot, label_view = one_hot_view(
        labels, name, cfg.hide_labels, cfg.hide_labels_seed, f"dataset {cfg.name}"
    )
    centre = np.nanmean(onehot, axis=0)
    views[name] = np.arange(Y.shape[1], Y.shape[1] + onehot.shape[1])
    return (
        np.concatenate([Y, onehot - centre], axis=1),
        names + label_view.column_names(),
        np.concatenate([offset, centre]),
        np.concatenate([scale, np.ones(len(centre))]),
        None if raw is None else np.concatenate([raw, onehot], axis=1),
        label_view,
    )
