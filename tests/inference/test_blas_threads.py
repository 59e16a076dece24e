"""The library holds BLAS to one thread during a fit, without touching the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info

from gplvm.inference.blas_threads import one_blas_thread

BLAS_SETTINGS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_one_blas_thread_inside_the_call_only(monkeypatch):
    for name in BLAS_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    before = _blas_threads()
    assert before, "NumPy's BLAS should be visible to threadpoolctl"
    inside = one_blas_thread(_blas_threads)()
    assert inside == [1] * len(before)
    assert _blas_threads() == before
    assert all(name not in os.environ for name in BLAS_SETTINGS)


def test_a_thread_count_set_by_the_user_is_kept(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    before = _blas_threads()
    assert one_blas_thread(_blas_threads)() == before


FIT = """
import json
from gplvm import load_config, fit_experiment
exp = fit_experiment(load_config("dataset=iris", "model=rbf", "plot=false", "inference.progress_seconds=0"))
print(json.dumps(exp.metrics["fit_seconds"]))
"""


def _fit_seconds(env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", FIT], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_library_fit_with_default_blas_threads_is_as_fast_as_one_thread():
    """Before the limit, iris with model=rbf took minutes from Python and seconds from ``gplvm``
    (which sets OPENBLAS_NUM_THREADS=1)."""
    default = {k: v for k, v in os.environ.items() if k not in BLAS_SETTINGS}
    library = _fit_seconds(default)
    command_line_like = _fit_seconds({**default, "OPENBLAS_NUM_THREADS": "1"})
    assert library < 1.5 * command_line_like, (library, command_line_like)
