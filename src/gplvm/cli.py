"""Command-line entry point: ``gplvm [overrides]``, a thin ``@hydra.main`` around the pipeline."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

# Two BLAS threads on two cores fight with the sampler and the optimiser (GUIDE section 4).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from gplvm.config import register_configs, to_run_config
from gplvm.errors import GPLVMError

log = logging.getLogger("gplvm")
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")
EXIT_BAD_INPUT = 2

register_configs()


def _summary(metrics: dict) -> str:
    keys = (
        "method",
        "n_obs",
        "n_features",
        "latent_dim",
        "beta",
        "log_likelihood",
        "log_posterior",
        "analytic_gap",
        "gram_rel_error",
        "divergences",
        "compile_seconds",
        "fit_seconds",
    )
    return ", ".join(
        f"{k}={metrics[k]:.6g}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}"
        for k in keys
        if metrics.get(k) is not None
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one configured experiment; return its log-likelihood for sweepers."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        run_cfg = to_run_config(cfg)
        from gplvm.pipeline import run_experiment  # PyMC loads only once the config is valid

        metrics = run_experiment(run_cfg, run_dir, OmegaConf.to_yaml(cfg))
    except GPLVMError as exc:
        from gplvm import results

        if not (run_dir / results.METRICS).exists():
            results.mark_failed(run_dir, exc)
        print(f"gplvm: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    log.info("%s", _summary(metrics))
    log.info("run directory: %s", run_dir)
    return metrics.get("log_likelihood")
