"""Latent prior schemas (``latent_prior=iid``, ``gp``, ``informative`` or ``back_constrained``):
how Z's rows are distributed a priori, or mapped from the data."""

from __future__ import annotations

from dataclasses import dataclass, field

from gplvm.config.hyperparameters import PriorConfig
from gplvm.config.validation import require

GP_KERNELS = ("rbf", "matern52")


@dataclass
class LatentPriorConfig:
    """The fields every latent prior has."""

    name: str = "iid"

    @property
    def columns(self) -> list[str]:
        """The data file's columns that the prior reads (kept out of Y): none for iid."""
        return []


@dataclass
class IidLatentPriorConfig(LatentPriorConfig):
    """Z ~ Normal(0, model.prior_scale), every row and dim independent (the default)."""

    name: str = "iid"


@dataclass
class CovariatePriorConfig(LatentPriorConfig):
    """A prior that reads covariate columns of the data file (kept out of Y)."""

    inputs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        require(
            len(set(self.inputs)) == len(self.inputs),
            "latent_prior.inputs",
            self.inputs,
            "name each column once",
        )

    @property
    def columns(self) -> list[str]:
        """The input columns."""
        return list(self.inputs)

    def check_inputs(self) -> None:
        """Inputs are required, but the schema's default (none) must compose: checked when run."""
        require(
            bool(self.inputs),
            "latent_prior.inputs",
            list(self.inputs),
            "name one or more covariate columns of the data file, e.g. latent_prior.inputs=[time]",
        )


@dataclass
class GPLatentPriorConfig(CovariatePriorConfig):
    """Each latent dim an independent GP over covariate columns of the data file.

    Cov(z_nq, z_mq) = prior_scale^2 ((1 - white) k(t_n, t_m) + white [n = m]), with k a unit-variance
    kernel over the inputs, each standardised to unit sd; rows of different ``group`` values are
    independent.
    """

    name: str = "gp"
    inputs: list[str] = field(default_factory=list)  # covariate columns
    group: str | None = None  # a column whose values name independent sequences
    kernel: str = "rbf"
    lengthscale: float = 1.0  # in sds of the standardised inputs; the start when learned
    learn_lengthscale: bool = True
    lengthscale_prior: PriorConfig = field(default_factory=PriorConfig)
    white: float = 0.01  # the share of each latent's variance independent per row
    max_rows: int = 5000  # the exact prior's N x N Cholesky: O(N^3) per evaluation
    approximation: str | None = None  # hsgp: a Hilbert-space GP (one input), O(N m) per evaluation
    num_basis: int = 64  # hsgp: basis functions per sequence
    boundary_factor: float = 1.5  # hsgp: the basis lives on c x the inputs' half range

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.group not in self.inputs, "latent_prior.group", self.group, "it must not be an input")
        require(
            self.kernel in GP_KERNELS, "latent_prior.kernel", self.kernel, f"choose {' or '.join(GP_KERNELS)}"
        )
        require(self.lengthscale > 0, "latent_prior.lengthscale", self.lengthscale, "it must be > 0")
        require(0 <= self.white < 1, "latent_prior.white", self.white, "it must lie in [0, 1)")
        require(self.max_rows >= 1, "latent_prior.max_rows", self.max_rows, "it must be >= 1")
        require(
            self.approximation in (None, "hsgp"),
            "latent_prior.approximation",
            self.approximation,
            "choose null (the exact prior) or hsgp",
        )
        require(self.num_basis >= 1, "latent_prior.num_basis", self.num_basis, "it must be >= 1")
        require(
            self.boundary_factor > 1, "latent_prior.boundary_factor", self.boundary_factor, "it must be > 1"
        )
        require(
            self.approximation is None or self.white > 0,
            "latent_prior.white",
            self.white,
            "latent_prior.approximation=hsgp needs a white share > 0 (e.g. 0.01)",
        )
        self.lengthscale_prior.check("latent_prior.lengthscale_prior")

    @property
    def columns(self) -> list[str]:
        """The input columns, then the group column when there is one."""
        return [*self.inputs, *([self.group] if self.group is not None else [])]


@dataclass
class InformativeLatentPriorConfig(CovariatePriorConfig):
    """Independent rows whose latent dim p is centred on covariate p (standardised, times
    ``model.prior_scale``) with sd ``spread``; dims beyond the covariates keep the iid prior."""

    name: str = "informative"
    inputs: list[str] = field(default_factory=list)  # one covariate per tied latent dim
    spread: float = 0.5  # the tied latents' sd around their covariate, in latent units
    learn_spread: bool = False
    spread_prior: PriorConfig = field(default_factory=lambda: PriorConfig(mu=-0.7, sigma=0.5))

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.spread > 0, "latent_prior.spread", self.spread, "it must be > 0")
        self.spread_prior.check("latent_prior.spread_prior")


@dataclass
class BackConstrainedConfig(LatentPriorConfig):
    """Z = g(Y): each latent a kernel mapping of its data row, z_n = sum_m k(y_n, c_m) w_m over
    ``num_centres`` training rows c_m, with the weights W as the free parameters (MAP and NUTS)."""

    name: str = "back_constrained"
    mapping: str = "kernel"
    num_centres: int = 200  # training rows the mapping's kernel is centred on (all when fewer)
    lengthscale: float | None = None  # in data space; null: from the rows' distances to their centres
    weight_scale: float | None = None  # the weights' prior sd; null: latents of variance prior_scale^2

    def __post_init__(self) -> None:
        require(self.mapping == "kernel", "latent_prior.mapping", self.mapping, "the mapping is 'kernel'")
        require(self.num_centres >= 1, "latent_prior.num_centres", self.num_centres, "it must be >= 1")
        for key in ("lengthscale", "weight_scale"):
            value = getattr(self, key)
            require(value is None or value > 0, f"latent_prior.{key}", value, "it must be > 0, or null")


LATENT_PRIORS = {
    "iid": IidLatentPriorConfig,
    "gp": GPLatentPriorConfig,
    "informative": InformativeLatentPriorConfig,
    "back_constrained": BackConstrainedConfig,
}
