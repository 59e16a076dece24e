"""The plot process: it draws what it is sent, and a failed or dead worker falls back to drawing here."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from gplvm.plot_worker import PlotWorker, draw_here

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
