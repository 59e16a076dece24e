"""``gplvm-inspect RUN_DIR``: diagnostics, a verdict and plots for any run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gplvm.cli.common import run_command
from gplvm.run.inspection import inspect


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gplvm-inspect``."""
    parser = argparse.ArgumentParser(prog="gplvm-inspect", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run directory written by gplvm")
    parser.add_argument("--no-plots", action="store_true", help="print the report only")
    args = parser.parse_args(argv)
    return run_command("gplvm-inspect", lambda: print(inspect(args.run_dir, make_plots=not args.no_plots)))


if __name__ == "__main__":
    sys.exit(main())
