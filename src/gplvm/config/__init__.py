"""Structured-config schemas by group, registered with Hydra's ConfigStore, and the plumbing that
composes and validates them.

The schemas make OmegaConf reject an unknown key or a wrong type when the config is composed.
Range checks live in each schema's ``__post_init__`` and run when :func:`to_run_config` turns
the composed config into these dataclasses; they raise :class:`~gplvm.errors.ConfigError` with
one line that names the bad value and what would be valid.
"""

from gplvm.config.dataset import (
    DATASETS,
    CountsDatasetConfig,
    CurveDatasetConfig,
    DatasetConfig,
    DigitsDatasetConfig,
    FileDatasetConfig,
    IrisDatasetConfig,
    MissingCells,
    SyntheticDatasetConfig,
)
from gplvm.config.evaluation import HeldoutConfig, KFoldConfig
from gplvm.config.hydra import (
    CONFIG_MODULE,
    compose,
    dataset_config_from_yaml,
    inference_config_from_yaml,
    latent_prior_config_from_yaml,
    load_config,
    model_config_from_yaml,
    register_configs,
    to_run_config,
)
from gplvm.config.hyperparameters import (
    HYPERPARAMETER_NAMES,
    HYPERPARAMETERS,
    LearnConfig,
    PriorConfig,
    PriorDist,
    PriorsConfig,
)
from gplvm.config.inference import (
    BACKENDS,
    Q_METHODS,
    InferenceConfig,
    Init,
    MapConfig,
    NutsConfig,
    Sampler,
    SVIConfig,
    VariationalConfig,
)
from gplvm.config.latent_prior import (
    LATENT_PRIORS,
    BackConstrainedConfig,
    CovariatePriorConfig,
    GPLatentPriorConfig,
    IidLatentPriorConfig,
    InformativeLatentPriorConfig,
    LatentPriorConfig,
)
from gplvm.config.model import InducingInit, ModelConfig, Noise
from gplvm.config.root import SCHEMAS, Config, check_against_data

__all__ = [
    "BACKENDS",
    "CONFIG_MODULE",
    "DATASETS",
    "HYPERPARAMETERS",
    "HYPERPARAMETER_NAMES",
    "LATENT_PRIORS",
    "Q_METHODS",
    "SCHEMAS",
    "BackConstrainedConfig",
    "Config",
    "CountsDatasetConfig",
    "CovariatePriorConfig",
    "CurveDatasetConfig",
    "DatasetConfig",
    "DigitsDatasetConfig",
    "FileDatasetConfig",
    "GPLatentPriorConfig",
    "HeldoutConfig",
    "IidLatentPriorConfig",
    "InducingInit",
    "InferenceConfig",
    "InformativeLatentPriorConfig",
    "Init",
    "IrisDatasetConfig",
    "KFoldConfig",
    "LatentPriorConfig",
    "LearnConfig",
    "MapConfig",
    "MissingCells",
    "ModelConfig",
    "Noise",
    "NutsConfig",
    "PriorConfig",
    "PriorDist",
    "PriorsConfig",
    "SVIConfig",
    "Sampler",
    "SyntheticDatasetConfig",
    "VariationalConfig",
    "check_against_data",
    "compose",
    "dataset_config_from_yaml",
    "inference_config_from_yaml",
    "latent_prior_config_from_yaml",
    "load_config",
    "model_config_from_yaml",
    "register_configs",
    "to_run_config",
]
