"""Command-line entry point: ``gplvm [overrides]``, a thin ``@hydra.main`` around the pipeline."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from gplvm.cli.common import EXIT_BAD_INPUT, EXIT_SWEEP_FAILED
from gplvm.config import CONFIG_MODULE, register_configs, to_run_config
from gplvm.config.hydra import check_overrides
from gplvm.errors import GPLVMError
from gplvm.evaluate.record import RunMetrics, field_names
from gplvm.run import lifecycle, results
from gplvm.run.sweep import FAILED_JOBS

log = logging.getLogger("gplvm")

register_configs()


def _summary(record: RunMetrics) -> str:
    """One line of the record's ``summary`` fields."""
    values = {k: getattr(record, k) for k in field_names("summary")}
    return ", ".join(
        f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items() if v is not None
    )


def _objective(record: RunMetrics) -> float:
    """What sweepers optimise: the held-out score when there is one, else the log-likelihood (a
    multi-view run, which has neither yet: its bound)."""
    for score in (record.heldout_log_lik_per_feature, record.log_likelihood, record.elbo):
        if score is not None:
            return float(score)
    return float("nan")


@hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name="config")
def main(cfg: DictConfig) -> float:
    """Run one configured experiment and return its objective for sweepers.

    A single run exits 2 on bad input. In a multirun, a failing job is recorded as failed in its
    directory and returns NaN, so that the other jobs go on; ``gplvm`` then exits 1. SIGINT and
    SIGTERM are recorded as interrupted and exit 130 and 143. With ``resume=true`` a job whose
    directory already holds a completed run of the same composed config is not run again.
    """
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    started, t0 = False, time.time()
    try:
        with lifecycle.signals_raise():
            # The kernels load PyTensor: only once Hydra has a config to run (not for --help).
            from gplvm.model.checks import check_run_config

            run_cfg = check_run_config(to_run_config(cfg))
            fingerprint = lifecycle.config_fingerprint(cfg)
            previous = lifecycle.completed_before(run_dir, fingerprint) if run_cfg.resume else None
            if previous is not None:
                log.info(
                    "job %s completed before with the same config: skipped (resume=true)", hydra_cfg.job.num
                )
                return _objective(RunMetrics.from_dict(previous))
            from gplvm.run.pipeline import run_experiment  # PyMC loads only once the config is valid

            started = True
            record = run_experiment(run_cfg, run_dir, OmegaConf.to_yaml(cfg), fingerprint)
    except lifecycle.Interrupted as exc:
        if not started:  # run_experiment records its own interruptions
            lifecycle.mark_interrupted(run_dir, exc.signum, time.time() - t0)
        print(f"gplvm: {exc}; {run_dir} records it (rerun a sweep with resume=true)", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if not started:  # run_experiment records its own failures
            results.mark_failed(run_dir, exc)
        if multirun:
            log.error("job %s failed: %s: %s", hydra_cfg.job.num, type(exc).__name__, exc)
            return float("nan")
        if isinstance(exc, GPLVMError):
            print(f"gplvm: error: {exc}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
        raise
    log.info("%s", _summary(record))
    log.info("run directory: %s", run_dir)
    return _objective(record)


def entry() -> None:
    """The ``gplvm`` command: Hydra's CLI, then exit 1 if a multirun had jobs that did not complete.

    Overrides are checked first, so that a mistyped key or option is one line and exit 2.
    """
    args = sys.argv[1:]
    if not any(a.startswith("-") and a not in ("-m", "--multirun") for a in args):  # not --help etc.
        try:
            check_overrides([a for a in args if not a.startswith("-")])
        except GPLVMError as exc:
            print(f"gplvm: error: {exc}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
    main()
    if FAILED_JOBS:
        print(
            f"gplvm: {len(FAILED_JOBS)} job(s) of the sweep did not complete; see sweep_status.json",
            file=sys.stderr,
        )
        sys.exit(EXIT_SWEEP_FAILED)
