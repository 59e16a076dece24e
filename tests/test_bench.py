"""The benchmark's helpers (``make bench`` itself is not part of the test suite)."""

from __future__ import annotations

import time

import pytest

from benchmarks.bench import evaluation_summary, time_call


def test_time_call_returns_the_median_of_repeated_calls():
    calls = []
    seconds = time_call(lambda: (calls.append(1), time.sleep(0.002)), min_seconds=0.02)
    assert 0.0015 < seconds < 0.05
    assert len(calls) >= 2  # a warm-up call plus timed ones


def test_time_call_times_at_least_once():
    assert time_call(lambda: time.sleep(0.001), min_seconds=0.0) > 0.0005


def test_evaluation_summary_gives_the_dense_over_woodbury_ratio():
    rows = [
        {"backend": "numpy", "form": "woodbury", "n_obs": 10, "seconds": 0.001, "compile_seconds": 0.0},
        {"backend": "numba", "form": "woodbury", "n_obs": 10, "seconds": 0.002, "compile_seconds": 1.0},
        {"backend": "numba", "form": "dense", "n_obs": 10, "seconds": 0.5, "compile_seconds": 2.0},
        {"backend": "numpy", "form": "woodbury", "n_obs": 99, "seconds": 0.003, "compile_seconds": 0.0},
        {"backend": "numba", "form": "woodbury", "n_obs": 99, "seconds": 0.004, "compile_seconds": 1.0},
    ]
    summary = evaluation_summary(rows)
    assert summary[0]["dense_over_woodbury"] == 250.0 and summary[0]["numpy_ms"] == 1.0
    assert summary[1]["dense_ms"] == "-" and summary[1]["woodbury_ms"] == 4.0


@pytest.mark.slow  # compiles every bound's graph (15 s)
def test_bound_evaluations_time_each_bound_at_each_size():
    from benchmarks.bench_sparse import bench_bound_evaluations

    rows = bench_bound_evaluations([70, 140], 70, lambda fn, **kw: time_call(fn, min_seconds=0.0))
    assert [(r["bound"], r["n_obs"]) for r in rows] == [
        ("sparse", 70),
        ("sparse", 140),
        ("variational", 70),
        ("variational", 140),
        ("dense", 70),
    ]
    assert all(r["ms"] > 0 and r["us_per_row"] == pytest.approx(1e3 * r["ms"] / r["n_obs"]) for r in rows)


def test_rbf_evaluations_time_numpy_eq3_and_each_backend():
    """The section crashed for a while (it called kernel methods that a refactor removed)."""
    from benchmarks.bench import bench_rbf_evaluations

    rows = bench_rbf_evaluations([30], ["python"])
    assert [(r["backend"], r["n_obs"]) for r in rows] == [("numpy eq. 3", 30), ("python", 30)]
    assert all(r["ms"] > 0 and r["over_numpy_eq3"] > 0 for r in rows)


@pytest.mark.slow  # compiles every form's graph
def test_missing_evaluations_time_each_form_complete_and_with_missing_cells():
    from benchmarks.bench_missing import CASES, bench_missing_evaluations

    rows = bench_missing_evaluations(lambda fn, **kw: time_call(fn, min_seconds=0.0), n_obs=80)
    assert [r["form"] for r in rows] == list(CASES)
    assert all(r["ratio"] == pytest.approx(r["missing_20pct_ms"] / r["complete_ms"]) for r in rows)


def test_bench_shows_each_section_as_it_starts_and_ends(tmp_path, capsys, monkeypatch):
    """``make bench`` ran for minutes before printing anything; now each section says it started,
    then prints its table and time as soon as it ends."""
    from pathlib import Path

    from benchmarks.bench import main

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))  # as make bench runs it

    assert main(["--only", "curve_maps", "--out", str(tmp_path)]) in (0, None)
    out = capsys.readouterr().out
    started = out.index("curve_maps: MAP on the curve dataset")
    table = out.index("### MAP on the curve dataset")
    assert started < table < out.index("(curve_maps: ") < out.index("1 sections in")
    assert (tmp_path / "latest.json").is_file() and (tmp_path / "latest.md").is_file()
