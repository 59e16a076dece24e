"""A run's life in its ``metrics.json``: running (with a heartbeat), interrupted, or stale.

- While a job runs, ``metrics.json`` says ``running`` with the process id and the host, and a
  background thread touches ``.heartbeat`` every :data:`HEARTBEAT_SECONDS` (a file of its own,
  so that it can never overwrite the final ``metrics.json``); it is removed when the job ends.
- SIGINT and SIGTERM (what Slurm sends before it kills a job) raise :class:`Interrupted` in the
  job, which records ``interrupted`` with the signal and the elapsed time; the command then exits
  with the conventional 128 + signal number (130, 143).
- A job that died without a word (SIGKILL, power loss) still says ``running``: readers call it
  ``stale`` when its process is gone from this host or its heartbeat is older than
  :data:`STALE_AFTER_SECONDS`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from gplvm.run import results

HEARTBEAT = ".heartbeat"
HEARTBEAT_SECONDS = 30.0
STALE_AFTER_SECONDS = 5 * HEARTBEAT_SECONDS
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The job received SIGINT or SIGTERM."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number."""
        return 128 + self.signum


def running_record(started: float) -> dict:
    """What ``metrics.json`` holds while the job runs."""
    return {
        "status": "running",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
    }


@contextlib.contextmanager
def job(run_dir: Path) -> Iterator[float]:
    """Mark the run as running, keep its heartbeat, and turn SIGINT/SIGTERM into :class:`Interrupted`.

    Yields the start time (``time.time()``). An :class:`Interrupted` (or a KeyboardInterrupt) is
    recorded as ``interrupted`` before it propagates; other errors are left to the caller.
    """
    started = time.time()
    results.write_metrics(run_dir, running_record(started))
    beat_file = run_dir / HEARTBEAT
    beat_file.touch()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            beat_file.touch()

    heartbeat = threading.Thread(target=beat, name="gplvm-heartbeat", daemon=True)
    heartbeat.start()
    try:
        with signals_raise():
            yield started
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        mark_interrupted(run_dir, signum, time.time() - started)
        raise Interrupted(signum) from None
    finally:
        stop.set()
        heartbeat.join()
        beat_file.unlink(missing_ok=True)


def mark_interrupted(run_dir: Path, signum: int, elapsed: float) -> None:
    """Record an interrupted job with its signal and how long it had run."""
    name = signal.Signals(signum).name
    results.write_metrics(
        run_dir,
        {
            "status": "interrupted",
            "signal": name,
            "elapsed_seconds": elapsed,
            "error": f"interrupted by {name}",
        },
    )


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` (main thread only).

    Other signals, such as the SIGUSR2 with which submitit checkpoints and requeues a Slurm job
    before its time limit, keep their handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    received: list[int] = []
    active = threading.Event()
    active.set()

    def handler(signum, _frame) -> None:
        received.append(signum)
        raise Interrupted(signum)

    def resend(signum: int) -> None:
        if active.is_set():
            os.kill(os.getpid(), signum)

    def deliver_again(unraisable) -> None:
        # A signal that arrives while a finaliser runs (a weakref callback in numba's compiler, a
        # __del__) raises there, and Python only reports it: the run would go on. Signal again
        # from another thread, so that the handler runs in the code that comes next, not here.
        if isinstance(unraisable.exc_value, Interrupted):
            timer = threading.Timer(0.01, resend, (unraisable.exc_value.signum,))
            timer.daemon = True
            timer.start()
        else:
            previous_hook(unraisable)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    previous_hook, sys.unraisablehook = sys.unraisablehook, deliver_again
    try:
        yield
        if received:  # raised where something swallowed it, and not raised again since
            raise Interrupted(received[0])
    finally:
        active.clear()
        sys.unraisablehook = previous_hook
        for s, old in previous.items():
            signal.signal(s, old)


def status(metrics: dict, run_dir: Path) -> str:
    """The status a reader should show: the recorded one, or ``stale`` for a dead ``running`` job.

    Stale: its process is gone from this host, or (on another host) its heartbeat is older than
    :data:`STALE_AFTER_SECONDS`, or missing.
    """
    recorded = metrics.get("status", "missing")
    if recorded != "running":
        return recorded
    if metrics.get("host") == socket.gethostname() and not _alive(int(metrics.get("pid", -1))):
        return "stale"
    try:
        age = time.time() - (run_dir / HEARTBEAT).stat().st_mtime
    except OSError:
        return "stale"
    return "stale" if age > STALE_AFTER_SECONDS else "running"


def stale_reason(metrics: dict) -> str:
    """Why a ``running`` record is stale, for messages."""
    return (
        f"it says running, but process {metrics.get('pid')} on {metrics.get('host')} is gone"
        f" or has not beaten its heartbeat for {STALE_AFTER_SECONDS:.0f} s"
    )


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def config_fingerprint(cfg) -> str:
    """SHA-256 of a composed job config (a DictConfig), without ``resume``: what makes two jobs the same."""
    import hashlib
    import json

    from omegaconf import OmegaConf

    values = OmegaConf.to_container(cfg, resolve=True)
    values.pop("resume", None)
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def completed_before(run_dir: Path, fingerprint: str) -> dict | None:
    """The run directory's metrics when it already holds a completed run of the same config."""
    try:
        metrics = results.read_metrics(run_dir)
    except (OSError, ValueError):
        return None
    same = metrics.get("status") == "completed" and metrics.get("config_sha256") == fingerprint
    return metrics if same else None
