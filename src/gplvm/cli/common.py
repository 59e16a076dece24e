"""What every console script shares: BLAS threads, exit codes and the one-line error."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from gplvm.errors import GPLVMError

EXIT_OK = 0
EXIT_SWEEP_FAILED = 1  # a multirun had jobs that did not complete
EXIT_BAD_INPUT = 2  # bad input the user can fix: one line on stderr, no traceback


def limit_threads() -> None:
    """One BLAS thread unless the user chose otherwise.

    Two BLAS threads on two cores fight with the sampler and the optimiser. This must run
    before NumPy loads, so the command-line package calls it when it is imported; the library
    itself never changes the environment.
    """
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def run_command(
    prog: str, body: Callable[[], int | None], errors: tuple[type[Exception], ...] = (GPLVMError,)
) -> int:
    """Run a command's ``body``; an exception of ``errors`` becomes ``prog: error: <message>``
    on stderr and :data:`EXIT_BAD_INPUT`."""
    try:
        return body() or EXIT_OK
    except errors as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
