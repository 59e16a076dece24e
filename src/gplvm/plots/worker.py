"""A helper process that loads matplotlib while the fit runs, then draws the plot it is sent.

Importing matplotlib takes about half a second, as long as compiling and fitting the default
digits MAP. Started before the fit, the import runs on the second core in parallel instead of
after it, and the drawing overlaps writing ``posterior.nc``. The protocol is one pickled request
on stdin, ``(function name in gplvm.plots.figures, args, kwargs)``, with a file object in place of the
path, and the PNG's bytes on stdout. When the process cannot start or fails, the plot is drawn
in the calling process instead, so no plot is lost to this optimisation.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
import subprocess
import sys
import traceback

log = logging.getLogger("gplvm")


def draw_here(name: str, args: tuple, kwargs: dict) -> bytes:
    """``gplvm.plots.figures.<name>(png, *args, **kwargs)`` in this process; returns the PNG's bytes."""
    # Deferred: matplotlib's import is what the worker process overlaps with the fit.
    from gplvm.plots import figures as plots

    png = io.BytesIO()
    getattr(plots, name)(png, *args, **kwargs)
    return png.getvalue()


class PlotWorker:
    """One ``python -m gplvm.plots.worker`` process, started at once, used for one drawing."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.request: tuple[str, tuple, dict] | None = None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gplvm.plots.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            log.warning("plot process did not start (%s); plotting in this process", exc)

    def submit(self, name: str, *args, **kwargs) -> None:
        """Send the drawing of ``gplvm.plots.figures.<name>`` (without its path argument) to the worker."""
        self.request = (name, args, kwargs)
        if self.proc is not None:
            stdin, self.proc.stdin = self.proc.stdin, None  # communicate() must not touch it again
            with contextlib.suppress(OSError):  # a dead worker: result() falls back
                stdin.write(pickle.dumps(self.request))
            with contextlib.suppress(OSError):
                stdin.close()

    def result(self) -> bytes:
        """The PNG of the submitted plot: from the worker, or drawn here if the worker failed."""
        if self.request is None:
            raise RuntimeError("nothing was submitted to the plot process")
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                png, err = proc.communicate(timeout=600)
            except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
                proc.kill()
                proc.communicate()
                png, err = b"", str(exc).encode()
            if proc.returncode == 0 and png:
                return png
            log.warning("plot process failed (%s); plotting in this process", err.decode()[-300:].strip())
        return draw_here(*self.request)

    def close(self) -> None:
        """Stop the worker if it was not used (a run that failed before plotting)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.communicate()  # reaps it and closes the pipes
            self.proc = None


def serve() -> int:
    """The worker's side: import the plotting code, draw the request read from stdin, write the PNG."""
    # Deferred, and first: this process exists to import matplotlib while the parent fits.
    from gplvm.plots import figures  # noqa: F401

    try:
        request = sys.stdin.buffer.read()
        if not request:  # the parent closed the pipe without a job
            return 0
        png = draw_here(*pickle.loads(request))
    except Exception:
        sys.stderr.write(traceback.format_exc())
        return 1
    sys.stdout.buffer.write(png)
    return 0


if __name__ == "__main__":
    sys.exit(serve())
