"""The files of ``gplvm-project``: new rows read in the run's columns and units, and the
projection written as ``projection.nc``, ``projection.png`` and, last, ``latents.csv``.

DATA_FILE may be in any format ``dataset=file`` takes (.csv, .parquet, .npy, .npz). The run's
feature columns are kept, by name when the file has them, else by position (a CSV may lack a
header row); a label column is taken out: ``--label-column``, or the run's own when the file has
it. ``latents.csv`` holds one row per new row, in order, with columns ``z0, z1, ...``,
``z0_sd, z1_sd, ...`` and the label when there is one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gplvm.config import (
    FileDatasetConfig,
    GPLatentPriorConfig,
    dataset_config_from_yaml,
    latent_prior_config_from_yaml,
)
from gplvm.data.files import column_names, read_columns, read_file
from gplvm.errors import DataError
from gplvm.model.latent_priors import numeric_column
from gplvm.plots import figures as plots
from gplvm.run import results

LATENTS = "latents.csv"
PROJECTION = "projection.nc"
PROJECTION_PLOT = "projection.png"


def read_rows(run, path: Path, label_column: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """New raw rows with the run's feature columns in the run's order, and their labels if any.

    Columns are matched by name when the file has a header row naming them all, else by position
    when the counts match. A CSV without a header row is read by position.
    """
    rows, labels, names = read_file(
        FileDatasetConfig(path=str(path), label_column=label_column), headerless=True
    )
    features = [str(f) for f in run.tree.constant_data["feature"].values]
    if names is not None and set(features) <= set(names):
        rows = rows[:, [names.index(f) for f in features]]
    elif rows.shape[1] != len(features):
        shown = ", ".join(features[:6]) + (", ..." if len(features) > 6 else "")
        header = " (no header row, so read by position)" if names is None and path.suffix == ".csv" else ""
        raise DataError(
            f"{path} has {rows.shape[1]} data columns{header}; the run was fitted on {len(features)}"
            f" ({shown})"
        )
    if len(rows) == 0:
        raise DataError(f"{path} has no rows")
    infinite = np.isinf(rows)
    if infinite.any():
        i, j = np.argwhere(infinite)[0]
        raise DataError(
            f"{path}: infinite value at row {i}, column {j} (counting from 0); remove or replace it first"
        )
    empty = np.flatnonzero(np.isnan(rows).all(axis=1))
    if len(empty):
        raise DataError(
            f"{path}: row {empty[0]} (counting from 0) has no observed value ({len(empty)} such); drop it"
        )
    return rows, labels


def label_column_for(run, path: Path, asked: str | None) -> str | None:
    """The label column to take out of ``path``: ``asked`` (``--label-column``; '' for none), else
    the run's own label column when ``path`` has it. Unlabelled rows are the usual case."""
    if asked is not None:
        return asked or None
    text = run.tree.attrs.get("dataset_config")
    column = getattr(dataset_config_from_yaml(text), "label_column", None) if text else None
    if column is None or path.suffix.lower() not in (".csv", ".parquet", ".npz"):
        return None
    return column if column in (column_names(path) or []) else None


def write_projection(out: Path, run, projection, labels, source: Path) -> None:
    """``projection.nc`` and ``projection.png`` first, ``latents.csv`` last (its presence means done)."""
    import pandas as pd
    import xarray as xr
    from xarray import DataTree

    out.mkdir(parents=True, exist_ok=True)
    n, q = projection.Z.shape
    dims = ("new_obs", "latent_dim")
    group = xr.Dataset(
        {
            "Z": (dims, projection.Z),
            "Z_sd": (dims, projection.Z_sd),
            "objective": ("new_obs", projection.objective),
            "converged": ("new_obs", projection.converged),
        },
        coords={"new_obs": np.arange(n), "latent_dim": np.arange(q)},
        attrs={
            "run": str(run.path),
            "data_file": str(source.resolve()),
            "n_draws": projection.n_draws,
            "method": projection.method,
        },
    )
    if labels is not None:
        group = group.assign(label=("new_obs", np.asarray(labels, dtype=str)))
    if projection.optimised_distance is not None:
        group = group.assign(optimised_distance=("new_obs", projection.optimised_distance))
    tree = DataTree.from_dict({"projection": group})
    results.write_atomic(out / PROJECTION, lambda p: tree.to_netcdf(p, engine="h5netcdf"))
    train_labels = run.tree.constant_data["label"].values if "label" in run.tree.constant_data else None
    results.write_atomic(
        out / PROJECTION_PLOT,
        lambda p: plots.save_projection_plot(
            p, run.latents, train_labels, projection.Z, projection.Z_sd, labels
        ),
    )
    table = pd.DataFrame(projection.Z, columns=[f"z{i}" for i in range(q)])
    for i in range(q):
        table[f"z{i}_sd"] = projection.Z_sd[:, i]
    if labels is not None:
        table["label"] = labels
    results.write_atomic(out / LATENTS, lambda p: table.to_csv(p, index=False))


VIEWS = "predicted_views.csv"


def read_view_rows(run, path: Path) -> np.ndarray:
    """New raw rows for a multi-view run: the file's header names some or all of the run's
    features (a view it lacks is NaN, to be predicted); a one-line error otherwise."""
    rows, _, names = read_file(FileDatasetConfig(path=str(path)), headerless=True)
    features = [str(f) for f in run.tree.constant_data["feature"].values]
    if names is None or not set(names) <= set(features):
        if rows.shape[1] == len(features):
            return rows
        raise DataError(
            f"{path}: name the run's feature columns in a header row (a subset of them: the views"
            f" to predict may be left out); {len(features)} features, e.g. {', '.join(features[:4])}"
        )
    out = np.full((len(rows), len(features)), np.nan)
    out[:, [features.index(n) for n in names]] = rows
    return out


def write_views(out: Path, run, prediction) -> Path:
    """``predicted_views.csv`` (every feature's predicted mean and ``<feature>_sd``, in the data's
    units; with a label view also ``predicted_label``, its ``predicted_label_probability`` and
    ``probability_<class>`` for each class), then ``latents.csv`` last (``z0, ...`` and
    ``z0_sd, ...``: each row's q(z*))."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    features = [str(f) for f in run.tree.constant_data["feature"].values]
    table = pd.DataFrame(prediction.mean, columns=features)
    for j, name in enumerate(features):
        table[f"{name}_sd"] = prediction.sd[:, j]
    if prediction.class_probability is not None:  # a label view: the likeliest class and each one's
        classes = np.asarray(json.loads(run.tree.attrs["label_classes"]))
        table["predicted_label"] = classes[np.argmax(prediction.class_probability, axis=1)]
        table["predicted_label_probability"] = prediction.class_probability.max(axis=1)
        for c, name in enumerate(classes):
            table[f"probability_{name}"] = prediction.class_probability[:, c]
    results.write_atomic(out / VIEWS, lambda p: table.to_csv(p, index=False))
    q = prediction.Z.shape[1]
    latents = pd.DataFrame(prediction.Z, columns=[f"z{i}" for i in range(q)])
    for i in range(q):
        latents[f"z{i}_sd"] = prediction.Z_sd[:, i]
    results.write_atomic(out / LATENTS, lambda p: latents.to_csv(p, index=False))
    return out / VIEWS


ALONG = "along.csv"


def predict_at(run, path: Path):
    """Read the run's GP-prior input (and group) columns from ``path`` and predict there: the
    table of inputs and the :class:`~gplvm.evaluate.along_inputs.AlongInputs`."""
    import pandas as pd

    prior = latent_prior_config_from_yaml(run.tree.attrs.get("config", ""))
    if not isinstance(prior, GPLatentPriorConfig):
        raise DataError(f"{run.path} was fitted without latent_prior=gp: --at needs a GP prior's inputs")
    columns = prior.columns
    text = read_columns(path, columns)
    inputs = np.column_stack([numeric_column(name, text[name]) for name in prior.inputs])
    groups = text[prior.group] if prior.group is not None else None
    table = pd.DataFrame({name: text[name] for name in columns})
    return table, run.predict_along(inputs, groups)


def write_along(out: Path, run, table, prediction) -> Path:
    """``along.csv``: the inputs, each feature's predicted mean and ``<feature>_sd``, then the
    latents ``z0, ...`` and ``z0_sd, ...`` for a point fit."""
    features = [str(f) for f in run.tree.constant_data["feature"].values]
    table = table.copy()
    for j, name in enumerate(features):
        table[name] = prediction.Y[:, j]
    for j, name in enumerate(features):
        table[f"{name}_sd"] = prediction.Y_sd[:, j]
    if prediction.Z is not None:
        for i in range(prediction.Z.shape[1]):
            table[f"z{i}"] = prediction.Z[:, i]
        for i in range(prediction.Z.shape[1]):
            table[f"z{i}_sd"] = prediction.Z_sd[:, i]
    out.mkdir(parents=True, exist_ok=True)
    results.write_atomic(out / ALONG, lambda p: table.to_csv(p, index=False))
    return out / ALONG
