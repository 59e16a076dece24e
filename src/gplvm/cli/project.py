"""``gplvm-project RUN_DIR DATA_FILE``: latents for new rows under a fitted run.

Reads DATA_FILE in any format ``dataset=file`` takes and writes ``projection.nc``,
``projection.png`` and, last, ``latents.csv`` (see :mod:`gplvm.run.projection_files`).
``gplvm-project RUN_DIR --at INPUTS_FILE``: for a run with a GP latent prior, rows and latents at
new values of its inputs (times missing from a series, a forecast), written as ``along.csv``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from gplvm.cli.common import run_command
from gplvm.errors import GPLVMError
from gplvm.run.loaded import load_run
from gplvm.run.projection_files import (
    LATENTS,
    label_column_for,
    predict_at,
    read_rows,
    read_view_rows,
    write_along,
    write_projection,
    write_views,
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gplvm-project``."""
    parser = argparse.ArgumentParser(prog="gplvm-project", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a completed run directory written by gplvm")
    parser.add_argument("data_file", type=Path, nargs="?", help="new rows: .csv, .parquet, .npy or .npz")
    parser.add_argument(
        "--at", type=Path, default=None, help="a .csv or .parquet of new input values (GP latent prior runs)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default RUN_DIR/projections/<time>)"
    )
    parser.add_argument(
        "--label-column",
        default=None,
        help="a label column to take out and keep (default: the run's, when the file has it; '' for none)",
    )
    parser.add_argument(
        "--max-draws", type=int, default=20, help="draws projected for NUTS or variational runs"
    )
    args = parser.parse_args(argv)

    def body() -> None:
        if args.max_draws < 1:
            raise ValueError(f"--max-draws={args.max_draws} is invalid: it must be >= 1")
        if (args.data_file is None) == (args.at is None):
            raise ValueError("give either DATA_FILE (new rows) or --at INPUTS_FILE (new input values)")
        run = load_run(args.run_dir)
        out = args.out or args.run_dir / "projections" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
        if args.at is not None:
            table, prediction = predict_at(run, args.at)
            written = write_along(out, run, table, prediction)
            print(f"Predicted {len(table)} rows at new input values; wrote {written}")
            return
        if run.record.views:  # several views: predict the ones the rows lack
            prediction = run.predict_views(read_view_rows(run, args.data_file))
            written = write_views(out, run, prediction)
            print(
                f"Predicted every view of {len(prediction.Z)} rows from their observed views; wrote {written}"
            )
            return
        label_column = label_column_for(run, args.data_file, args.label_column)
        rows, labels = read_rows(run, args.data_file, label_column)
        projection = run.project(rows, args.max_draws)
        if projection.method == "back_constraint":
            optimised = run.project(rows, args.max_draws, through_mapping=False)
            projection.optimised_distance = np.linalg.norm(projection.Z - optimised.Z, axis=1)
        write_projection(out, run, projection, labels, args.data_file)
        how = {"variational": "each row's q(z*)", "back_constraint": "through the back-constraint g"}.get(
            projection.method, f"{projection.n_draws} fit(s)"
        )
        print(f"Projected {len(rows)} rows ({how}); wrote {out / LATENTS}")
        if projection.optimised_distance is not None:
            spread = float(np.sqrt(np.mean(np.var(run.latents, axis=0))))
            gap = projection.optimised_distance / spread
            print(
                f"g's placement is {np.median(gap):.3g} latent sds from the optimised one (median;"
                f" 90th percentile {np.quantile(gap, 0.9):.3g}): optimised_distance in projection.nc"
            )
        stuck = int(len(rows) - projection.converged.sum())
        if stuck:
            print(
                f"warning: {stuck} rows did not converge (see converged in projection.nc);"
                " their latents are the best points found"
            )

    return run_command("gplvm-project", body, (GPLVMError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
