"""The root config, and the schemas that the YAML files in ``conf/`` extend."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from gplvm.config.dataset import DATASETS
from gplvm.config.evaluation import HeldoutConfig, KFoldConfig
from gplvm.config.inference import MapConfig, NutsConfig, SVIConfig, VariationalConfig
from gplvm.config.latent_prior import LATENT_PRIORS
from gplvm.config.model import ModelConfig
from gplvm.config.validation import require


@dataclass
class Config:
    """The root config: one dataset, one model, one inference method and a seed."""

    dataset: Any = MISSING
    model: ModelConfig = field(default_factory=ModelConfig)
    inference: Any = MISSING
    latent_prior: Any = MISSING
    heldout: HeldoutConfig = field(default_factory=HeldoutConfig)
    kfold: KFoldConfig = field(default_factory=KFoldConfig)
    seed: int = 0
    plot: bool = True
    # Larger training data is referenced (source, shape, hash), not copied into posterior.nc.
    copy_data_max_mb: float = 50.0
    # Skip the job when its directory already holds a completed run of the same composed config.
    resume: bool = False

    def __post_init__(self) -> None:
        require(
            math.isfinite(self.copy_data_max_mb) and self.copy_data_max_mb >= 0,
            "copy_data_max_mb",
            self.copy_data_max_mb,
            "it must be a number of MiB >= 0",
        )


def check_against_data(cfg: Config, n_obs: int) -> None:
    """Checks that need the data: 1 <= latent_dim < number of observations."""
    q = cfg.model.latent_dim
    require(q < n_obs, "model.latent_dim", q, f"it must be < the number of observations ({n_obs})")


SCHEMAS = {
    "schema_config": Config,
    **{f"schema_dataset_{name}": schema for name, schema in DATASETS.items()},
    "schema_model": ModelConfig,
    "schema_inference_map": MapConfig,
    "schema_inference_nuts": NutsConfig,
    "schema_inference_variational": VariationalConfig,
    "schema_inference_svi": SVIConfig,
    **{f"schema_latent_prior_{name}": schema for name, schema in LATENT_PRIORS.items()},
}
