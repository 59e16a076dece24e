"""One BLAS thread while the library computes, so that a notebook runs as fast as the command line.

The optimisers and samplers make many small BLAS calls between compiled loops that use their own
threads; OpenBLAS's threads, spinning between those calls, slowed a library fit on two cores about
60-fold. The limit holds only inside the decorated call, through threadpoolctl, so the caller's
other work keeps its threads and the environment is never changed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from threadpoolctl import threadpool_limits

# A BLAS thread count the user set in the environment is theirs to choose.
_USER_SETTINGS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def one_blas_thread[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with one BLAS thread, unless the environment sets a BLAS thread count.

    Parameters
    ----------
    func
        The computation to wrap.

    Returns
    -------
    Callable
        ``func`` with the limit held for the duration of each call (nested calls are fine).
    """

    @functools.wraps(func)
    def limited(*args: P.args, **kwargs: P.kwargs) -> R:
        if any(os.environ.get(name) for name in _USER_SETTINGS):
            return func(*args, **kwargs)
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return limited
