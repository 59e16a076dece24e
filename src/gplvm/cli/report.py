"""``gplvm-report SWEEP_DIR``: one table, one plot and the best configuration of a sweep.

Writes ``report.csv``, ``report.md`` and ``report.png`` into the sweep directory (see
:mod:`gplvm.run.sweep_report`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gplvm.cli.common import run_command
from gplvm.run.sweep_report import write_report


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gplvm-report``."""
    parser = argparse.ArgumentParser(prog="gplvm-report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun directory written by gplvm -m")
    args = parser.parse_args(argv)
    return run_command("gplvm-report", lambda: print(write_report(args.sweep_dir)))


if __name__ == "__main__":
    sys.exit(main())
