"""``gplvm-project RUN_DIR DATA_FILE``: latents for new rows under a fitted run.

Reads DATA_FILE in any format ``dataset=file`` takes and writes ``projection.nc``,
``projection.png`` and, last, ``latents.csv`` (see :mod:`gplvm.run.projection_files`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from gplvm.cli.common import run_command
from gplvm.errors import GPLVMError
from gplvm.run.loaded import load_run
from gplvm.run.projection_files import LATENTS, label_column_for, read_rows, write_projection


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gplvm-project``."""
    parser = argparse.ArgumentParser(prog="gplvm-project", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a completed run directory written by gplvm")
    parser.add_argument("data_file", type=Path, help="new rows: .csv, .parquet, .npy or .npz")
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
        run = load_run(args.run_dir)
        label_column = label_column_for(run, args.data_file, args.label_column)
        rows, labels = read_rows(run, args.data_file, label_column)
        projection = run.project(rows, args.max_draws)
        out = args.out or args.run_dir / "projections" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
        write_projection(out, run, projection, labels, args.data_file)
        how = "each row's q(z*)" if projection.method == "variational" else f"{projection.n_draws} fit(s)"
        print(f"Projected {len(rows)} rows ({how}); wrote {out / LATENTS}")
        stuck = int(len(rows) - projection.converged.sum())
        if stuck:
            print(
                f"warning: {stuck} rows did not converge (see converged in projection.nc);"
                " their latents are the best points found"
            )

    return run_command("gplvm-project", body, (GPLVMError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
