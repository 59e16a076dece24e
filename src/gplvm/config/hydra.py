"""Hydra plumbing: register the schemas, compose the installed configs, and turn a composed
config into validated dataclasses (or one ConfigError line).

Checks that need the kernel and likelihood classes run in :mod:`gplvm.model.checks`; checks that
need the data in :func:`check_against_data`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hydra import compose as hydra_compose
from hydra import initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from gplvm.config.dataset import DATASETS, DatasetConfig
from gplvm.config.inference import Q_METHODS, InferenceConfig
from gplvm.config.latent_prior import LATENT_PRIORS, IidLatentPriorConfig
from gplvm.config.model import ModelConfig
from gplvm.config.overrides import extra_keys, key_hint
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
    """Compose and validate: the :class:`Config` that ``gplvm <overrides>`` would run.

    An override that Hydra cannot apply is a one-line ConfigError naming the closest valid key.
    """
    try:
        composed = compose(overrides)
    except (MissingConfigException, ConfigCompositionException) as exc:
        raise composition_error(exc, overrides) from None
    return to_run_config(composed)


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
    refuse_extra_keys(cfg, run_cfg)
    if isinstance(run_cfg.inference, Q_METHODS):
        # The Bayesian GPLVM integrates Z out of the sparse bound; no other form applies.
        run_cfg.model.likelihood = "sparse"
    return run_cfg


def refuse_extra_keys(cfg: DictConfig, run_cfg: object) -> None:
    """A key added with ``+key=value`` that the schema does not have is refused, not ignored."""
    schema = OmegaConf.structured(run_cfg)
    extra = extra_keys(cfg, schema)
    if extra:
        raise ConfigError(key_hint(extra[0], schema))


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
        raise ConfigError(
            f"inference method {method!r} is unknown; choose one of map, nuts, svi, variational"
        )
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values.inference)), int(
        values.get("seed", 0)
    )


def latent_prior_config_from_yaml(text: str):
    """The latent prior config in a run's composed config (``config`` attr); iid when absent."""
    values = OmegaConf.create(text or "{}").get("latent_prior") or {"name": "iid"}
    schema = LATENT_PRIORS.get(str(values.get("name")), IidLatentPriorConfig)
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))


def model_config_from_yaml(text: str) -> ModelConfig:
    """The ModelConfig stored as YAML in a run's attrs (``model_config``)."""
    merged = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.create(text))
    return OmegaConf.to_object(merged)


def _first_values(overrides: Sequence[str]) -> list[str] | None:
    """Each override with a sweep replaced by its first value; None if Hydra cannot parse them.

    Interval sweeps (Optuna's) have no first value; they are left out.
    """
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except Exception:  # Hydra reports its own syntax errors
        return None
    single = []
    for override in parsed:
        if not override.is_sweep_override():
            single.append(override.input_line)
            continue
        try:
            first = next(iter(override.sweep_string_iterator()))
        except Exception:
            continue
        single.append(f"{override.get_key_element()}={first}")
    return single


def composition_error(exc: Exception, overrides: Sequence[str]) -> ConfigError:
    """Hydra's report of an override it could not apply, as one line naming the closest valid key
    or the valid options."""
    text = str(exc)
    if isinstance(exc, MissingConfigException):
        found = re.search(r"Could not find '([^']+)/([^']+)'", text)
        options = re.findall(r"^\t(\S+)$", text.split("Config search path")[0], flags=re.MULTILINE)
        if found and options:
            group, option = found.groups()
            return ConfigError(f"{group}={option} is not an option; choose one of {', '.join(options)}")
        return ConfigError(text.splitlines()[0])
    bad = re.match(r"Could not override '([^']+)'", text)
    if bad:
        rest = [o for o in overrides if not o.lstrip("+~").startswith(f"{bad.group(1)}=")]
        return ConfigError(key_hint(bad.group(1), compose(rest, return_hydra_config=True)))
    cause = str(exc.__cause__).splitlines()[0] if exc.__cause__ else ""
    merging = re.match(r"Error merging override (\S+)", text)
    if merging and cause:
        return ConfigError(f"{merging.group(1)} is invalid: {cause}")
    return ConfigError(text.splitlines()[0])


def check_overrides(overrides: Sequence[str]) -> None:
    """Compose ``overrides`` (each sweep at its first value) and raise a one-line ConfigError for a
    key that does not exist, a group option that does not exist, or a value of the wrong type.

    Hydra's own report of these is several lines, and its hint for an unknown key (``+key=value``)
    adds a key that the schema would ignore.
    """
    single = _first_values(overrides)
    if single is None:
        return
    try:
        composed = compose(single, return_hydra_config=True)
    except (MissingConfigException, ConfigCompositionException) as exc:
        raise composition_error(exc, single) from None
    with open_dict(composed):
        del composed["hydra"]
    try:
        run_cfg = OmegaConf.to_object(composed)
    except (OmegaConfBaseException, ConfigError):
        return  # refused by to_run_config once Hydra has made the run directory, which records it
    refuse_extra_keys(composed, run_cfg)
