"""``gplvm-project RUN_DIR DATA_FILE``: latents for new rows under a fitted run.

Reads DATA_FILE in any format ``dataset=file`` takes (.csv, .parquet, .npy, .npz), keeps the run's
feature columns (by name when the file has them), takes a label column out (the run's own, or
``--label-column``), applies the run's centring and scaling, and projects every row (see
:mod:`gplvm.evaluate.projection`). Writes, to ``--out`` (default ``RUN_DIR/projections/<time>/``):
``projection.nc`` (a DataTree), ``projection.png`` (the new rows over the training latents) and,
last, ``latents.csv``: one row per new row, in order, with columns ``z0, z1, ...``, ``z0_sd,
z1_sd, ...`` and the label when there is one.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from gplvm.errors import GPLVMError
from gplvm.run import results

LATENTS = "latents.csv"
PROJECTION = "projection.nc"
PROJECTION_PLOT = "projection.png"
EXIT_BAD_INPUT = 2


def read_rows(run, path: Path, label_column: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """New raw rows with the run's feature columns in the run's order, and their labels if any."""
    from gplvm.config import FileDatasetConfig
    from gplvm.data.files import read_file
    from gplvm.errors import DataError

    rows, labels, names = read_file(FileDatasetConfig(path=str(path), label_column=label_column))
    features = [str(f) for f in run.tree.constant_data["feature"].values]
    if names is not None and set(features) <= set(names):
        rows = rows[:, [names.index(f) for f in features]]
    elif rows.shape[1] != len(features):
        shown = ", ".join(features[:6]) + (", ..." if len(features) > 6 else "")
        raise DataError(
            f"{path} has {rows.shape[1]} data columns; the run was fitted on {len(features)} ({shown})"
        )
    if len(rows) == 0:
        raise DataError(f"{path} has no rows")
    infinite = np.isinf(rows)
    if infinite.any():
        i, j = np.argwhere(infinite)[0]
        raise DataError(f"{path}: infinite value at row {i}, column {j}; remove or replace it first")
    empty = np.flatnonzero(np.isnan(rows).all(axis=1))
    if len(empty):
        raise DataError(f"{path}: row {empty[0]} has no observed value ({len(empty)} such); drop it")
    return rows, labels


def _run_label_column(run, path: Path) -> str | None:
    """The run's own label column, when it had one and ``path`` is a table that has it."""
    from gplvm.config import dataset_config_from_yaml

    text = run.tree.attrs.get("dataset_config")
    column = getattr(dataset_config_from_yaml(text), "label_column", None) if text else None
    if column is None or path.suffix.lower() not in (".csv", ".parquet", ".npz"):
        return None
    return column


def write_projection(out: Path, run, projection, labels, source: Path) -> None:
    """``projection.nc`` and ``projection.png`` first, ``latents.csv`` last (its presence means done)."""
    import pandas as pd
    import xarray as xr
    from xarray import DataTree

    from gplvm.plots import figures as plots

    out.mkdir(parents=True, exist_ok=True)
    n, q = projection.Z.shape
    dims = ("new_obs", "latent_dim")
    group = xr.Dataset(
        {
            "Z": (dims, projection.Z),
            "Z_sd": (dims, projection.Z_sd),
            "objective": ("new_obs", projection.objective),
        },
        coords={"new_obs": np.arange(n), "latent_dim": np.arange(q)},
        attrs={"run": str(run.path), "data_file": str(source.resolve()), "n_draws": projection.n_draws},
    )
    if labels is not None:
        group = group.assign(label=("new_obs", np.asarray(labels, dtype=str)))
    tree = DataTree.from_dict({"projection": group})
    results.write_atomic(out / PROJECTION, lambda p: tree.to_netcdf(p, engine="h5netcdf"))
    train_labels = run.tree.constant_data["label"].values if "label" in run.tree.constant_data else None
    results.write_atomic(
        out / PROJECTION_PLOT,
        lambda p: plots.save_projection_plot(p, run.latents, train_labels, projection.Z, projection.Z_sd),
    )
    table = pd.DataFrame(projection.Z, columns=[f"z{i}" for i in range(q)])
    for i in range(q):
        table[f"z{i}_sd"] = projection.Z_sd[:, i]
    if labels is not None:
        table["label"] = labels
    results.write_atomic(out / LATENTS, lambda p: table.to_csv(p, index=False))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gplvm-project``."""
    parser = argparse.ArgumentParser(prog="gplvm-project", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a completed run directory written by gplvm")
    parser.add_argument("data_file", type=Path, help="new rows: .csv, .parquet, .npy or .npz")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default RUN_DIR/projections/<time>)"
    )
    parser.add_argument("--label-column", default=None, help="a label column to take out and keep")
    parser.add_argument(
        "--max-draws", type=int, default=20, help="draws projected for NUTS or variational runs"
    )
    args = parser.parse_args(argv)
    from gplvm.run.loaded import load_run

    try:
        if args.max_draws < 1:
            raise ValueError(f"--max-draws={args.max_draws} is invalid: it must be >= 1")
        run = load_run(args.run_dir)
        label_column = args.label_column or _run_label_column(run, args.data_file)
        rows, labels = read_rows(run, args.data_file, label_column)
        projection = run.project(rows, args.max_draws)
        out = args.out or args.run_dir / "projections" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
        write_projection(out, run, projection, labels, args.data_file)
    except (GPLVMError, ValueError) as exc:
        print(f"gplvm-project: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"Projected {len(rows)} rows ({projection.n_draws} fit(s)); wrote {out / LATENTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
