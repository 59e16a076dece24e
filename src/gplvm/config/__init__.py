"""Structured-config schemas, registered with Hydra's ConfigStore.

The schemas make OmegaConf reject an unknown key or a wrong type when the config is composed.
Range checks live in ``__post_init__`` and run when :func:`to_run_config` turns the composed
config into these dataclasses; they raise :class:`~gplvm.errors.ConfigError` with one line that
names the bad value and what would be valid. Checks that need the data (``latent_dim`` < N) are
in :func:`check_against_data`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gplvm.errors import ConfigError


class Likelihood(StrEnum):
    """How eq. 1 is evaluated: Woodbury in O(N Q^2 + N Q D), a dense O(N^3) Cholesky, or the
    sparse (inducing-point) lower bound in O(N M^2 + N M D)."""

    woodbury = "woodbury"
    dense = "dense"
    sparse = "sparse"


class InducingInit(StrEnum):
    """Where the inducing inputs start: k-means centres of the starting latents, or a random subset."""

    kmeans = "kmeans"
    random = "random"


class MissingCells(StrEnum):
    """What a data file's missing cells (empty CSV cells, NaN, Parquet nulls) do: stop the run
    with an error naming the first, or stay missing (each column's likelihood then uses its
    observed rows, and the run writes the imputed table)."""

    error = "error"
    allow = "allow"


class PriorDist(StrEnum):
    """Prior of a learned positive hyperparameter."""

    lognormal = "lognormal"  # log(theta) ~ Normal(mu, sigma)
    halfnormal = "halfnormal"  # theta ~ |Normal(0, sigma)|


# Every hyperparameter a kernel may have; each kernel class names the ones it uses.
HYPERPARAMETERS = ("beta", "variance", "lengthscale", "bias")


class Init(StrEnum):
    """Where an optimiser or sampler starts. ``map`` (NUTS only) means: at the fitted MAP."""

    pca = "pca"
    random = "random"
    map = "map"


class Sampler(StrEnum):
    """NUTS implementation behind ``pm.sample``."""

    nutpie = "nutpie"
    pymc = "pymc"


BACKENDS = ("numba", "c", "python")


def _require(ok: bool, key: str, value: Any, valid: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: {valid}")


def _positive_finite(key: str, value: float) -> None:
    _require(math.isfinite(value) and value > 0, key, value, "it must be a finite number > 0")


# ---------------------------------------------------------------- datasets


@dataclass
class DatasetConfig:
    """Fields every dataset shares."""

    name: str = MISSING
    standardize: bool = False  # divide each feature by its standard deviation after centring
    max_obs: int | None = None  # keep only the first max_obs rows (quick trials)
    missing: MissingCells = MissingCells.error  # allow: keep missing cells (NaN) and impute them

    def __post_init__(self) -> None:
        if self.max_obs is not None:
            _require(self.max_obs >= 2, "dataset.max_obs", self.max_obs, "it must be >= 2 or null")


@dataclass
class SyntheticDatasetConfig(DatasetConfig):
    """Data drawn from the linear model itself: Y = Z W^T + noise, with known Z and beta."""

    name: str = "synthetic"
    n_obs: int = 100
    n_features: int = 10
    latent_dim: int = 2
    beta: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.n_obs >= 2, "dataset.n_obs", self.n_obs, "it must be >= 2")
        _require(self.n_features >= 1, "dataset.n_features", self.n_features, "it must be >= 1")
        _require(self.latent_dim >= 1, "dataset.latent_dim", self.latent_dim, "it must be >= 1")
        _positive_finite("dataset.beta", self.beta)


@dataclass
class CurveDatasetConfig(DatasetConfig):
    """Points along a noisy circular arc (a 1-D curve), embedded in ``n_features`` dims.

    Projected onto one line (PCA, the linear GPLVM with Q = 1) the arc folds onto itself; a
    non-linear latent space can unroll it. Labels are ``n_segments`` equal pieces of the arc.
    """

    name: str = "curve"
    n_obs: int = 100
    n_features: int = 10
    arc_degrees: float = 300.0
    noise: float = 0.05  # sd of isotropic noise, relative to the radius 1
    n_segments: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.n_obs >= 2, "dataset.n_obs", self.n_obs, "it must be >= 2")
        _require(self.n_features >= 2, "dataset.n_features", self.n_features, "it must be >= 2")
        _require(
            0 < self.arc_degrees <= 360, "dataset.arc_degrees", self.arc_degrees, "it must lie in (0, 360]"
        )
        _require(
            math.isfinite(self.noise) and self.noise >= 0, "dataset.noise", self.noise, "it must be >= 0"
        )
        _require(self.n_segments >= 1, "dataset.n_segments", self.n_segments, "it must be >= 1")


@dataclass
class DigitsDatasetConfig(DatasetConfig):
    """scikit-learn's bundled 8x8 digits: 1797 x 64, labels 0-9."""

    name: str = "digits"


@dataclass
class IrisDatasetConfig(DatasetConfig):
    """scikit-learn's bundled iris: 150 x 4, three species."""

    name: str = "iris"


@dataclass
class FileDatasetConfig(DatasetConfig):
    """A user file: ``.csv`` with a header row, ``.parquet``, ``.npy`` (a 2-D array) or ``.npz``."""

    name: str = "file"
    path: str = MISSING
    label_column: str | None = None  # csv, parquet: a column name; npz: an array name
    array: str = "Y"  # npz: the name of the data array


# ---------------------------------------------------------------- model


@dataclass
class PriorConfig:
    """Prior of one hyperparameter, used when it is learned."""

    dist: PriorDist = PriorDist.lognormal
    mu: float = 0.0  # lognormal only: the mean of log(theta)
    sigma: float = 1.0  # lognormal: the sd of log(theta); halfnormal: the scale

    def check(self, key: str) -> None:
        """Raise a ConfigError naming ``key`` (e.g. ``model.priors.beta``) for a bad value."""
        _require(math.isfinite(self.mu), f"{key}.mu", self.mu, "it must be finite")
        _positive_finite(f"{key}.sigma", self.sigma)
        _require(
            self.dist == PriorDist.lognormal or self.mu == 0,
            f"{key}.mu",
            self.mu,
            "a halfnormal prior has no mu; leave it at 0 or use dist=lognormal",
        )


@dataclass
class LearnConfig:
    """Which hyperparameters are learned (true) or fixed at their configured value (false)."""

    beta: bool = False
    variance: bool = False
    lengthscale: bool = False
    bias: bool = False


@dataclass
class PriorsConfig:
    """Priors of the hyperparameters. Wide by default: the data set the scale of beta and variance."""

    beta: PriorConfig = field(default_factory=lambda: PriorConfig(sigma=3.0))
    variance: PriorConfig = field(default_factory=lambda: PriorConfig(sigma=3.0))
    # Z ~ Normal(0, 1) sets the latent scale, so length scales near 1 are the plausible ones.
    lengthscale: PriorConfig = field(default_factory=PriorConfig)
    bias: PriorConfig = field(default_factory=lambda: PriorConfig(PriorDist.halfnormal))


@dataclass
class ModelConfig:
    """The GPLVM: K = k(Z) + (beta^-1 + jitter) I, Z ~ Normal(0, prior_scale).

    ``beta``, ``variance``, ``lengthscale`` and ``bias`` are fixed values, or the starting values
    of the ones marked in ``learn``, which then get the priors in ``priors``.
    """

    latent_dim: int = 2
    kernel: str = "linear"  # a name registered in gplvm.model.kernels.KERNELS
    ard: bool = False  # stationary kernels: one length scale per latent dim
    beta: float = 1.0  # noise precision
    variance: float = 1.0  # signal variance of stationary kernels
    lengthscale: float = 1.0  # length scale (ARD: the start of every dim)
    bias: float = 0.0  # constant added to every entry of k
    learn: LearnConfig = field(default_factory=LearnConfig)
    priors: PriorsConfig = field(default_factory=PriorsConfig)
    prior_scale: float = 1.0
    likelihood: Likelihood = Likelihood.woodbury
    jitter: float = 1e-6  # added to the diagonal, relative to the kernel's variance + bias
    num_inducing: int = 64  # sparse bound: M inducing inputs (at most N)
    inducing_init: InducingInit = InducingInit.random

    def __post_init__(self) -> None:
        _require(self.latent_dim >= 1, "model.latent_dim", self.latent_dim, "it must be >= 1")
        _positive_finite("model.prior_scale", self.prior_scale)
        for name in ("beta", "variance", "lengthscale"):
            _positive_finite(f"model.{name}", getattr(self, name))
        _require(math.isfinite(self.bias) and self.bias >= 0, "model.bias", self.bias, "it must be >= 0")
        _require(
            math.isfinite(self.jitter) and 0 <= self.jitter < 1,
            "model.jitter",
            self.jitter,
            "it must lie in [0, 1)",
        )
        _require(self.num_inducing >= 1, "model.num_inducing", self.num_inducing, "it must be >= 1")

    def check_kernel(self) -> None:
        """Checks that ask the kernel and likelihood classes (run by :func:`to_run_config`).

        Not in ``__post_init__``: Hydra instantiates the defaults when the schemas are registered,
        and the kernels need PyTensor, which composing a config (``--help``) does not.
        """
        from gplvm.model.forms import FORMS
        from gplvm.model.kernels import KERNELS

        _require(
            self.kernel in KERNELS,
            "model.kernel",
            self.kernel,
            f"choose one of {', '.join(sorted(KERNELS))}",
        )
        kernel = KERNELS[self.kernel]
        allowed = ("beta", *kernel.hyperparameters)
        for name in HYPERPARAMETERS:
            if not getattr(self.learn, name):
                continue
            _require(
                name in allowed,
                f"model.learn.{name}",
                True,
                f"the {self.kernel} kernel has no {name}; it can learn {', '.join(allowed)}",
            )
            _require(
                getattr(self, name) > 0,
                f"model.{name}",
                getattr(self, name),
                "a learned hyperparameter starts at a value > 0",
            )
            getattr(self.priors, name).check(f"model.priors.{name}")
        ard_kernels = sorted(name for name, k in KERNELS.items() if k.supports_ard)
        _require(
            not self.ard or kernel.supports_ard,
            "model.ard",
            self.ard,
            f"ARD needs a kernel with length scales ({', '.join(ard_kernels)})",
        )
        form = FORMS[self.likelihood.value]
        _require(
            form.supports(kernel()),
            "model.likelihood",
            self.likelihood.value,
            f"the {form.name} form does not support the {self.kernel} kernel; use model.likelihood=dense"
            f" (or model={self.kernel})",
        )

    def check_variational(self) -> None:
        """inference=variational needs the kernel's expectations under q(Z) in closed form."""
        from gplvm.model.kernels import KERNELS

        able = sorted(name for name, k in KERNELS.items() if k.has_psi_statistics)
        _require(
            KERNELS[self.kernel].has_psi_statistics,
            "model.kernel",
            self.kernel,
            f"inference=variational needs a kernel with closed-form psi statistics ({', '.join(able)});"
            " use inference=map with model.likelihood=sparse for this kernel",
        )


# ---------------------------------------------------------------- inference


@dataclass
class InferenceConfig:
    """Fields every inference method shares."""

    method: str = MISSING
    init: Init = Init.pca
    backend: str = "numba"  # PyTensor compile backend: numba, c or python (FAST_COMPILE)
    # Optimisers log iteration, objective, gradient and elapsed time this often; 0 is quiet.
    progress_seconds: float = 5.0
    # Fits with draws store each feature's log-likelihood per draw (the log_likelihood group,
    # for PSIS-LOO over features); false saves chains x draws x D numbers in posterior.nc.
    log_likelihood: bool = True

    def __post_init__(self) -> None:
        _require(
            self.backend in BACKENDS,
            "inference.backend",
            self.backend,
            f"choose one of {', '.join(BACKENDS)}",
        )
        _require(
            math.isfinite(self.progress_seconds) and self.progress_seconds >= 0,
            "inference.progress_seconds",
            self.progress_seconds,
            "it must be >= 0 (0: no progress lines)",
        )


@dataclass
class MapConfig(InferenceConfig):
    """MAP by SciPy's L-BFGS-B on the PyMC model's log density, with PyTensor gradients."""

    method: str = "map"
    backend: str = "python"  # compiles in under a second, runs as fast as numba here (make bench)
    maxiter: int = 10_000
    ftol: float = 0.0  # scipy's 2.2e-9 stops short of the optimum on large objectives
    gtol: float = 1e-8
    maxcor: int = 30
    # L-BFGS-B keeps 2 x maxcor vectors as long as all parameters (N Q + hyperparameters); above
    # this many MiB, maxcor is lowered to fit (at 10^6 x 2 latents, 30 pairs would take 960 MiB).
    history_mb: float = 256.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.init != Init.map, "inference.init", self.init.value, "MAP starts from pca or random")
        _require(self.maxiter >= 1, "inference.maxiter", self.maxiter, "it must be >= 1")
        _require(self.ftol >= 0, "inference.ftol", self.ftol, "it must be >= 0")
        _require(self.gtol >= 0, "inference.gtol", self.gtol, "it must be >= 0")
        _require(self.maxcor >= 1, "inference.maxcor", self.maxcor, "it must be >= 1")
        _require(self.history_mb > 0, "inference.history_mb", self.history_mb, "it must be > 0")


@dataclass
class NutsConfig(InferenceConfig):
    """NUTS by ``pm.sample``, started at the MAP (default) plus PyMC's U(-1, 1) jitter per chain."""

    method: str = "nuts"
    init: Init = Init.map
    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    cores: int | None = (
        None  # chains run in parallel: threads (nutpie) or processes (pymc); null: PyMC's default
    )
    target_accept: float = 0.8
    sampler: Sampler = Sampler.nutpie
    progressbar: bool = True  # set false for quieter logs, e.g. on a cluster
    map: MapConfig = field(default_factory=MapConfig)  # settings of the MAP used as start

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.draws >= 1, "inference.draws", self.draws, "it must be >= 1")
        _require(self.tune >= 0, "inference.tune", self.tune, "it must be >= 0")
        _require(self.chains >= 1, "inference.chains", self.chains, "it must be >= 1")
        _require(
            self.cores is None or self.cores >= 1, "inference.cores", self.cores, "it must be >= 1 or null"
        )
        _require(
            self.sampler != Sampler.nutpie or self.backend == "numba",
            "inference.backend",
            self.backend,
            "the nutpie sampler compiles with numba; use inference.backend=numba or inference.sampler=pymc",
        )
        _require(
            0 < self.target_accept < 1, "inference.target_accept", self.target_accept, "it must lie in (0, 1)"
        )


@dataclass
class VariationalConfig(MapConfig):
    """The Bayesian GPLVM: q(Z) = prod_n N(mu_n, diag S_n) and the sparse bound minus KL(q || prior).

    The bound is maximised over mu, S, the inducing inputs and the learned hyperparameters (at
    their MAP under their priors) by the same L-BFGS-B as ``map``; the run then stores draws
    from q as its posterior.
    """

    method: str = "variational"
    maxiter: int = 1000  # as GPy's optimize(): the bound keeps creeping up for thousands more
    init_variance: float = 0.1  # the start of every S_nq, relative to prior_scale^2
    draws: int = 250  # draws from q per chain
    chains: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive_finite("inference.init_variance", self.init_variance)
        _require(self.draws >= 1, "inference.draws", self.draws, "it must be >= 1")
        _require(self.chains >= 1, "inference.chains", self.chains, "it must be >= 1")


# ---------------------------------------------------------------- evaluation


@dataclass
class HeldoutConfig:
    """Hold out feature columns, fit Z on the rest, and score them under the fitted K.

    Each column of Y is an independent draw from N(0, K), so held-out columns are scored with the
    same Gaussian marginal likelihood. Unlike the training likelihood, the score cannot be
    inflated by more latent dimensions. ``fraction = 0`` turns it off.
    """

    fraction: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        _require(0 <= self.fraction < 1, "heldout.fraction", self.fraction, "it must lie in [0, 1)")


@dataclass
class KFoldConfig:
    """Exact K-fold cross-validation over the feature columns: after the fit, ``folds`` refits,
    each holding out one seeded fold of the columns and scoring it by its log predictive density.
    ``folds = 0`` turns it off."""

    folds: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self.folds == 0 or self.folds >= 2, "kfold.folds", self.folds, "it must be 0 (off) or >= 2")


# ---------------------------------------------------------------- root


@dataclass
class Config:
    """The root config: one dataset, one model, one inference method and a seed."""

    dataset: Any = MISSING
    model: ModelConfig = field(default_factory=ModelConfig)
    inference: Any = MISSING
    heldout: HeldoutConfig = field(default_factory=HeldoutConfig)
    kfold: KFoldConfig = field(default_factory=KFoldConfig)
    seed: int = 0
    plot: bool = True
    # Larger training data is referenced (source, shape, hash), not copied into posterior.nc.
    copy_data_max_mb: float = 50.0
    # Skip the job when its directory already holds a completed run of the same composed config.
    resume: bool = False

    def __post_init__(self) -> None:
        _require(
            math.isfinite(self.copy_data_max_mb) and self.copy_data_max_mb >= 0,
            "copy_data_max_mb",
            self.copy_data_max_mb,
            "it must be a number of MiB >= 0",
        )


DATASETS = {
    cls.name: cls
    for cls in (
        SyntheticDatasetConfig,
        CurveDatasetConfig,
        DigitsDatasetConfig,
        IrisDatasetConfig,
        FileDatasetConfig,
    )
}

SCHEMAS = {
    "schema_config": Config,
    **{f"schema_dataset_{name}": schema for name, schema in DATASETS.items()},
    "schema_model": ModelConfig,
    "schema_inference_map": MapConfig,
    "schema_inference_nuts": NutsConfig,
    "schema_inference_variational": VariationalConfig,
}
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
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

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
    run_cfg.model.check_kernel()
    if isinstance(run_cfg.inference, VariationalConfig):
        run_cfg.model.check_variational()
        # The Bayesian GPLVM integrates Z out of the sparse bound; no other form applies.
        run_cfg.model.likelihood = Likelihood.sparse
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
    model = OmegaConf.to_object(merged)
    model.check_kernel()
    return model


def check_against_data(cfg: Config, n_obs: int) -> None:
    """Checks that need the data: 1 <= latent_dim < number of observations."""
    q = cfg.model.latent_dim
    _require(q < n_obs, "model.latent_dim", q, f"it must be < the number of observations ({n_obs})")
