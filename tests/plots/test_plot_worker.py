"""The plot process: it draws what it is sent, and a failed or dead worker falls back to drawing here."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from gplvm.plots.worker import PlotWorker, draw_here

PANELS = [("random points", np.random.default_rng(0).standard_normal((50, 2)))]
LABELS = np.array(["a", "b"] * 25)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_worker_draws_the_same_plot_as_this_process(caplog):
    worker = PlotWorker()
    worker.submit("save_latent_plot", PANELS, LABELS)
    with caplog.at_level(logging.WARNING, logger="gplvm"):
        png = worker.result()
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    assert worker.proc is None and not caplog.records  # used once, no fallback
    # Same drawing code, same matplotlib: the same image size in bytes within a little metadata.
    here = draw_here("save_latent_plot", (PANELS, LABELS), {})
    assert abs(len(here) - len(png)) < 0.01 * len(png)


def test_dead_worker_falls_back_to_drawing_here(caplog):
    worker = PlotWorker()
    worker.proc.kill()  # as if it had died
    worker.submit("save_latent_plot", PANELS, LABELS)
    with caplog.at_level(logging.WARNING, logger="gplvm"):
        png = worker.result()
    assert png.startswith(PNG_MAGIC)
    assert "plotting in this process" in caplog.text


def test_a_plot_that_fails_in_the_worker_fails_here_too(caplog):
    """The fallback repeats the call, so a real error (here labels of the wrong length) reaches the caller."""
    worker = PlotWorker()
    worker.submit("save_latent_plot", PANELS, LABELS[:3])
    with caplog.at_level(logging.WARNING, logger="gplvm"), pytest.raises(IndexError):
        worker.result()
    assert "IndexError" in caplog.text


def test_close_stops_an_unused_worker():
    worker = PlotWorker()
    proc = worker.proc
    worker.close()
    assert proc.returncode is not None and worker.proc is None


def test_large_latent_spaces_are_drawn_as_a_stated_random_subset():
    from gplvm.plots.figures import MAX_POINTS, shown_rows

    rows, note = shown_rows(10)
    assert list(rows) == list(range(10)) and note == ""
    rows, note = shown_rows(1_000_000)
    assert len(rows) == MAX_POINTS == len(set(rows)) and np.all(np.diff(rows) > 0)
    assert f"{MAX_POINTS:,} of 1,000,000 points, drawn at random" in note
    np.testing.assert_array_equal(shown_rows(1_000_000)[0], rows)  # seeded: the same subset every time
    Z = np.random.default_rng(1).standard_normal((50_000, 2))
    png = draw_here("save_latent_plot", ([("big", Z)], np.array(["a", "b"] * 25_000)), {})
    assert png.startswith(PNG_MAGIC)
