"""The plot process: it draws what it is sent, and a failed or dead worker falls back to drawing here."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from gplvm.plot_worker import PlotWorker

PANELS = [("random points", np.random.default_rng(0).standard_normal((50, 2)))]
LABELS = np.array(["a", "b"] * 25)


def test_worker_draws_the_requested_plot(tmp_path, caplog):
    worker = PlotWorker()
    with caplog.at_level(logging.WARNING, logger="gplvm"):
        worker.draw("save_latent_plot", tmp_path / "w.png", PANELS, LABELS)
    assert (tmp_path / "w.png").stat().st_size > 5000
    assert worker.proc is None and not caplog.records  # used once, no fallback


def test_dead_worker_falls_back_to_drawing_here(tmp_path, caplog):
    worker = PlotWorker()
    worker.proc.kill()  # as if it had died; draw() reaps it
    with caplog.at_level(logging.WARNING, logger="gplvm"):
        worker.draw("save_latent_plot", tmp_path / "here.png", PANELS, LABELS)
    assert (tmp_path / "here.png").stat().st_size > 5000
    assert "plotting in this process" in caplog.text


def test_a_plot_that_fails_in_the_worker_fails_here_too(tmp_path, caplog):
    """The fallback repeats the call, so a real error (here a bad argument) reaches the caller."""
    worker = PlotWorker()
    with caplog.at_level(logging.WARNING, logger="gplvm"), pytest.raises(IndexError):
        worker.draw("save_latent_plot", tmp_path / "bad.png", PANELS, LABELS[:3])
    assert "IndexError" in caplog.text and not (tmp_path / "bad.png").exists()


def test_close_stops_an_unused_worker():
    worker = PlotWorker()
    proc = worker.proc
    worker.close()
    assert proc.returncode is not None and worker.proc is None
