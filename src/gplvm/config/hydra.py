"""Hydra plumbing: register the schemas, compose the installed configs, and turn a composed
config into validated dataclasses (or one ConfigError line).

Checks that need the kernel and likelihood classes run in :mod:`gplvm.model.checks`; checks that
need the data in :func:`check_against_data`.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra import compose as hydra_compose
from hydra import initialize_config_module
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gplvm.config.dataset import DATASETS, DatasetConfig
from gplvm.config.inference import InferenceConfig, VariationalConfig
from gplvm.config.model import ModelConfig
from gplvm.config.root import SCHEMAS, Config
from gplvm.errors import ConfigError

# The YAML files are installed with the package as gplvm.conf (see pyproject.toml).
CONFIG_MODULE = "gplvm.conf"


def register_configs() -> None:
    """Register the schemas so that the YAML files in ``conf/`` are validated against them.

    They are stored outside every config group, so that ``gplvm --help`` lists only the options
    a user can pick; each option's YAML extends its schema with ``- /schema_...@_here_``.
    """
    cs = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        cs.store(name=name, node=node)


def compose(overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """Compose the installed configs with ``overrides``, as ``gplvm`` would, without running anything."""
    register_configs()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return hydra_compose(
            config_name="config", overrides=list(overrides), return_hydra_config=return_hydra_config
        )


def load_config(*overrides: str) -> Config:
    """Compose and validate: the :class:`Config` that ``gplvm <overrides>`` would run."""
    return to_run_config(compose(overrides))


def to_run_config(cfg: DictConfig) -> Config:
    """Turn a composed config into validated dataclasses, or raise a one-line ConfigError."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"{missing[0]} is required; set it on the command line, e.g. {missing[0]}=...")
    try:
        run_cfg = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        # e.g. "Missing mandatory value: dataset.path"
        raise ConfigError(str(exc).splitlines()[0]) from None
    if not isinstance(run_cfg, Config):
        raise ConfigError("the config was not composed from the gplvm schema (schema_config)")
    if isinstance(run_cfg.inference, VariationalConfig):
        # The Bayesian GPLVM integrates Z out of the sparse bound; no other form applies.
        run_cfg.model.likelihood = "sparse"
    return run_cfg


def dataset_config_from_yaml(text: str) -> DatasetConfig:
    """The dataset config stored as YAML in a run's attrs (``dataset_config``)."""
    values = OmegaConf.create(text)
    schema = DATASETS.get(str(values.get("name")))
    if schema is None:
        raise ConfigError(f"dataset {values.get('name')!r} is unknown; choose one of {', '.join(DATASETS)}")
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))


def inference_config_from_yaml(text: str) -> tuple[InferenceConfig, int]:
    """(inference config, seed) of the composed config stored as YAML in a run's attrs (``config``)."""
    values = OmegaConf.create(text)
    method = str(values.get("inference", {}).get("method"))
    schema = SCHEMAS.get(f"schema_inference_{method}")
    if schema is None:
        raise ConfigError(f"inference method {method!r} is unknown; choose one of map, nuts, variational")
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values.inference)), int(
        values.get("seed", 0)
    )


def model_config_from_yaml(text: str) -> ModelConfig:
    """The ModelConfig stored as YAML in a run's attrs (``model_config``)."""
    merged = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.create(text))
    return OmegaConf.to_object(merged)
