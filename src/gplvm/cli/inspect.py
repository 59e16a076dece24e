"""``gplvm-inspect RUN_DIR``: diagnostics, a verdict and plots for any run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gplvm.cli.common import run_command
from gplvm.run.inspection_report import report
from gplvm.run.loaded import load_run


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gplvm-inspect``."""
    parser = argparse.ArgumentParser(prog="gplvm-inspect", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run directory written by gplvm")
    parser.add_argument("--no-plots", action="store_true", help="print the report only")
    args = parser.parse_args(argv)

    def body() -> None:
        if args.no_plots:  # the report alone loads no plotting library
            print(report(load_run(args.run_dir)))
            return
        from gplvm.run.inspection import inspect

        print(inspect(args.run_dir))

    return run_command("gplvm-inspect", body)


if __name__ == "__main__":
    sys.exit(main())
