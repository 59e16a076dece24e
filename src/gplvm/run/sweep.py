"""Multirun support: the status of every job in a sweep directory, and a callback that reports it.

Each job records its status in its own ``metrics.json`` (see :mod:`gplvm.run.results`), whichever
launcher ran it: in this process, in joblib workers or on a cluster through submitit. The callback
runs in the process that launched the sweep, once all jobs have ended, and reads those files.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gplvm.run import lifecycle, results

log = logging.getLogger("gplvm")


@dataclass(frozen=True)
class JobStatus:
    """One job directory of a sweep."""

    path: Path
    status: str  # completed, failed, interrupted, running, stale, or missing (no metrics.json)
    error: str | None = None


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Job directories of a sweep: those with Hydra's ``.hydra/`` record, in job-number order."""
    dirs = [p.parent.parent for p in sweep_dir.glob("**/.hydra/overrides.yaml")]
    return sorted(dirs, key=lambda p: (len(p.parts), int(p.name) if p.name.isdigit() else 0, str(p)))


def job_metrics(job_dir: Path) -> dict:
    """A job's ``metrics.json``, or status ``missing`` when it was never written (a killed job)."""
    try:
        return results.read_metrics(job_dir)
    except (OSError, ValueError):
        return {"status": "missing", "error": "no readable metrics.json"}


def job_status(path: Path, metrics: dict) -> JobStatus:
    """What a job directory says, a dead ``running`` job shown as stale with the reason."""
    status = lifecycle.status(metrics, path)
    error = lifecycle.stale_reason(metrics) if status == "stale" else metrics.get("error")
    return JobStatus(path, status, error)


def job_statuses(sweep_dir: Path) -> list[JobStatus]:
    """The status of every job in ``sweep_dir``."""
    return [job_status(path, job_metrics(path)) for path in job_dirs(sweep_dir)]


# Set by the callback in the launching process; read by the ``gplvm`` entry point for its exit code.
FAILED_JOBS: list[JobStatus] = []


class SweepStatusCallback(Callback):
    """After a multirun, log how many jobs completed and record those that did not."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        statuses = job_statuses(sweep_dir)
        bad = [s for s in statuses if s.status != "completed"]
        FAILED_JOBS[:] = bad
        log.info("sweep %s: %d of %d jobs completed", sweep_dir, len(statuses) - len(bad), len(statuses))
        for s in bad:
            log.error("job %s %s: %s", s.path.name, s.status, s.error)
        (sweep_dir / "sweep_status.json").write_text(
            json.dumps(
                {
                    "jobs": len(statuses),
                    "completed": len(statuses) - len(bad),
                    "not_completed": [
                        {"job": str(s.path), "status": s.status, "error": s.error} for s in bad
                    ],
                },
                indent=2,
            )
            + "\n"
        )
