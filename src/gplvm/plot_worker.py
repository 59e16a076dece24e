"""A helper process that loads matplotlib while the fit runs, then draws the plot it is sent.

Importing matplotlib takes about half a second, as long as compiling and fitting the default
digits MAP. Started before the fit, the import runs on the second core in parallel instead of
after it. The protocol is one pickled request on stdin, ``(function name in gplvm.plots, args,
kwargs)``, and ``ok`` (or the error) on stdout. When the process cannot start or fails, the
caller draws in its own process instead, so a plot is never lost to this optimisation.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import traceback

log = logging.getLogger("gplvm")
OK = b"ok"


class PlotWorker:
    """One ``python -m gplvm.plot_worker`` process, started at once, used for one drawing."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gplvm.plot_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            log.warning("plot process did not start (%s); plotting in this process", exc)

    def draw(self, name: str, *args, **kwargs) -> None:
        """Call ``gplvm.plots.<name>(*args, **kwargs)`` in the worker, or here if the worker fails."""
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                out, err = proc.communicate(pickle.dumps((name, args, kwargs)), timeout=600)
            except (OSError, subprocess.TimeoutExpired) as exc:
                proc.kill()
                out, err = b"", str(exc).encode()
            if proc.returncode == 0 and out == OK:
                return
            log.warning("plot process failed (%s); plotting in this process", err.decode()[-300:].strip())
        from gplvm import plots

        getattr(plots, name)(*args, **kwargs)

    def close(self) -> None:
        """Stop the worker if it was never used (a run that failed before plotting)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.communicate()  # reaps it and closes the pipes
            self.proc = None


def serve() -> int:
    """The worker's side: import the plotting code, then draw the one request read from stdin."""
    from gplvm import plots  # the slow import this process exists to overlap

    try:
        request = sys.stdin.buffer.read()
        if not request:  # the parent closed the pipe without a job
            return 0
        name, args, kwargs = pickle.loads(request)
        getattr(plots, name)(*args, **kwargs)
    except Exception:
        sys.stderr.write(traceback.format_exc())
        return 1
    sys.stdout.buffer.write(OK)
    return 0


if __name__ == "__main__":
    sys.exit(serve())
