"""``gplvm-compare RUN_DIR... | SWEEP_DIR``: compare fitted runs by their elpd over features.

Writes ``compare.csv``, ``compare.md`` and ``compare.png`` to ``--out`` (default
``SWEEP_DIR/comparison``, or ``./comparison``); see :mod:`gplvm.run.comparison`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gplvm.cli.common import run_command
from gplvm.errors import GPLVMError
from gplvm.run.comparison import MARKDOWN, PLOT, TABLE, CompareError, compare, write_outputs


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gplvm-compare``."""
    parser = argparse.ArgumentParser(prog="gplvm-compare", description=__doc__.splitlines()[0])
    parser.add_argument("paths", type=Path, nargs="+", help="run directories, or one sweep directory")
    parser.add_argument(
        "--kfold", type=int, default=None, metavar="K", help="compare every run by exact K-fold over features"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the K-fold assignment")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    args = parser.parse_args(argv)

    def body() -> None:
        if args.kfold is not None and args.kfold < 2:
            raise CompareError(f"--kfold={args.kfold} is invalid: it must be >= 2")
        refit = None
        if args.kfold is not None:  # PyMC loads only when runs are refitted
            from gplvm.run.refit import kfold_now as refit
        table, sources, sweep_dir = compare(args.paths, args.kfold, args.seed, refit)
        out = args.out or (sweep_dir / "comparison" if sweep_dir is not None else Path("comparison"))
        write_outputs(table, out)
        print_summary(table, sources, out)

    return run_command("gplvm-compare", body, (GPLVMError, ValueError))


def print_summary(table, sources: dict[str, str], out: Path) -> None:
    """The ranking, a warning for unreliable PSIS-LOO, and the files written."""
    columns = [
        c for c in ("rank", "elpd", "se", "elpd_diff", "dse", "p", "weight", "elpd_from") if c in table
    ]
    print(table[columns].to_string(float_format=lambda v: f"{v:.4g}"))
    unreliable = [name for name, how in sources.items() if "UNRELIABLE" in how]
    if unreliable:
        print(
            f"\nPSIS-LOO is unreliable for {len(unreliable)} run(s) (high Pareto k): rerun the comparison"
            " with the --kfold that elpd_from names (K <= D), or fit them with that kfold.folds"
        )
    print(f"\nWrote {out / TABLE}, {out / MARKDOWN} and {out / PLOT}")


if __name__ == "__main__":
    sys.exit(main())
