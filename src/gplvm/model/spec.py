"""The configured GPLVM as one object: kernel, likelihood form, priors and hyperparameter values.

Everything downstream of the config (the PyMC model, metrics, diagnostics, plots, inspection)
asks a :class:`ModelSpec`; none of it reads the config to find out which kernel it has. The
NumPy densities here evaluate fitted points and posterior draws independently of the PyTensor
graph that was fitted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from gplvm.config import ModelConfig, Noise, PriorConfig, PriorDist
from gplvm.errors import ConfigError
from gplvm.model.analytic import AnalyticOptimum
from gplvm.model.checks import check_model
from gplvm.model.constants import LOG_2PI
from gplvm.model.forms import LikelihoodForm, make_form
from gplvm.model.forms.auto import AUTO, choose_likelihood
from gplvm.model.forms.sparse import Sparse
from gplvm.model.kernels import Hyper, Kernel, make_kernel
from gplvm.model.latent_priors import StructuredPrior
from gplvm.model.latent_priors.back_constraint import WEIGHTS, WHITENED, BackConstraint

Values = dict[str, float | np.ndarray]


def prior_log_density(value, prior: PriorConfig) -> float:
    """Log density of a hyperparameter value (scalar or array) under its prior, summed.

    Written out rather than through ``scipy.stats``, whose import took 0.8 s of every run that
    learns a hyperparameter (the tests compare both).
    """
    value = np.asarray(value, dtype=float)
    sigma = float(prior.sigma)
    inside = value > 0 if prior.dist == PriorDist.lognormal else value >= 0
    x = np.where(inside, value, 1.0)  # outside the support the density is 0: no log(0) warnings
    if prior.dist == PriorDist.lognormal:
        log_x = np.log(x)
        density = -log_x - np.log(sigma) - 0.5 * LOG_2PI - (log_x - prior.mu) ** 2 / (2 * sigma**2)
    else:
        density = 0.5 * np.log(2 / np.pi) - np.log(sigma) - x**2 / (2 * sigma**2)
    return float(np.sum(np.where(inside, density, -np.inf)))


@dataclass(frozen=True)
class ModelSpec:
    """K = k(Z) + noise I, Z ~ Normal(0, prior_scale), and which hyperparameters are learned.

    Attributes
    ----------
    kernel, form : Kernel, LikelihoodForm
        The covariance and how eq. 1 is evaluated.
    latent_dim, prior_scale : int, float
        Q and the sd of the Normal prior on Z.
    configured : dict
        Fixed values, and the starting values of learned hyperparameters (an ARD length scale is
        a vector of length Q).
    learned : tuple of str
        The learned hyperparameters, ``beta`` first, then the kernel's in its order.
    priors : dict
        The prior of each learned hyperparameter.
    num_inducing, inducing_init : int, str
        The inducing inputs of the sparse form: this model's own, or that of a sparse fit that
        starts a dense one (``inference.init=sparse``).
    latent_prior : StructuredPrior or None
        A structured prior over Z's rows (``latent_prior=gp`` or ``informative``) instead of the
        iid Normal; its hyperparameter (``latent_lengthscale``, ``latent_spread``), when learned,
        is in the posterior and in each draw's values.
    back_constraint : BackConstraint or None
        Z = g(Y) (``latent_prior=back_constrained``): the mapping's whitened weights ``bc_whitened``
        are the free parameters in place of Z, with an iid Normal prior; each draw's values carry
        them and the weights ``bc_weights``.
    noise : str
        ``gaussian`` (eq. 1), or ``poisson`` or ``negative_binomial`` counts with a log link
        (:mod:`gplvm.model.count_model`); beta is not learned for counts.
    size_factors : bool
        Counts: each row's library size as an offset.
    """

    kernel: Kernel
    form: LikelihoodForm
    latent_dim: int
    prior_scale: float
    configured: Values
    learned: tuple[str, ...]
    priors: dict[str, PriorConfig]
    num_inducing: int = 64
    inducing_init: str = "random"
    latent_prior: StructuredPrior | None = None
    back_constraint: BackConstraint | None = None
    noise: str = "gaussian"
    size_factors: bool = True

    @classmethod
    def from_config(cls, cfg: ModelConfig, n_obs: int | None = None) -> ModelSpec:
        """Build the spec of a model config, checked against the registered kernels and forms.

        ``model.likelihood=auto`` needs ``n_obs``, the number of rows it is chosen for
        (:mod:`gplvm.model.forms.auto`).
        """
        check_model(cfg)
        if cfg.likelihood == AUTO:
            if n_obs is None:
                raise ConfigError("model.likelihood=auto is chosen by the data's size: pass n_obs")
            cfg = replace(cfg, likelihood=choose_likelihood(cfg.kernel, n_obs)[0])
        kernel = make_kernel(cfg.kernel, ard=cfg.ard, jitter=cfg.jitter)
        names = ("beta", *kernel.hyperparameters)
        configured: Values = {name: float(getattr(cfg, name)) for name in names}
        if cfg.ard:
            configured["lengthscale"] = np.full(cfg.latent_dim, cfg.lengthscale)
        learned = tuple(name for name in names if getattr(cfg.learn, name))
        if cfg.noise != Noise.gaussian:  # counts have no Gaussian noise: beta is not a parameter
            learned = tuple(name for name in learned if name != "beta")
        return cls(
            kernel=kernel,
            form=make_form(cfg.likelihood, kernel, cfg),
            latent_dim=cfg.latent_dim,
            prior_scale=cfg.prior_scale,
            configured=configured,
            learned=learned,
            priors={name: getattr(cfg.priors, name) for name in learned},
            num_inducing=cfg.num_inducing,
            inducing_init=str(cfg.inducing_init),
            noise=str(cfg.noise),
            size_factors=cfg.size_factors,
        )

    def as_sparse(self) -> ModelSpec:
        """The same model with the sparse likelihood (its inducing inputs as configured)."""
        return replace(self, form=Sparse(self.kernel, self.num_inducing, self.inducing_init))

    @property
    def names(self) -> tuple[str, ...]:
        """Every hyperparameter: ``beta`` first, then the kernel's own."""
        return tuple(self.configured)

    # ------------------------------------------------------------ values from a posterior

    @property
    def latent_variable(self) -> str:
        """The model's free variable that sets Z: Z itself, or the back-constraint's weights."""
        return "Z" if self.back_constraint is None else WHITENED

    @property
    def free_hyperparameters(self) -> tuple[str, ...]:
        """The learned hyperparameters, and the latent prior's when it is learned."""
        prior = self.latent_prior
        return (*self.learned, *((prior.parameter,) if prior is not None and prior.learn else ()))

    def starting_hyperparameters(self) -> dict[str, np.ndarray]:
        """Start values of :attr:`free_hyperparameters`."""
        out = {name: np.asarray(self.configured[name]) for name in self.learned}
        prior = self.latent_prior
        if prior is not None and prior.learn:
            out[prior.parameter] = np.asarray(prior.start, dtype=float)
        return out

    def per_draw(self, posterior: xr.Dataset) -> list[Values]:
        """One dict of values per draw (chains flattened), learned ones read from ``posterior``.

        The form's variational parameters (the sparse form's ``inducing``) come along.
        """
        n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
        read = (*self.learned, *(p for p in self.form.parameters if p in posterior))
        learned = {name: posterior[name].values.reshape(n_draws, *posterior[name].shape[2:]) for name in read}
        extra = [name for name in self.form.parameters if name in learned]
        prior = self.latent_prior
        if prior is not None and prior.parameter in posterior:
            learned[prior.parameter] = posterior[prior.parameter].values.reshape(n_draws)
            extra.append(prior.parameter)
        for name in (WEIGHTS, WHITENED) if self.back_constraint is not None else ():
            if name in posterior:
                learned[name] = posterior[name].values.reshape(n_draws, *posterior[name].shape[2:])
                extra.append(name)
        return [
            {name: learned[name][i] if name in learned else value for name, value in self.configured.items()}
            | {name: learned[name][i] for name in extra}
            for i in range(n_draws)
        ]

    def fits(self, posterior: xr.Dataset, max_draws: int) -> list[tuple[int, np.ndarray, Values]]:
        """(flat index, raw Z, values) of up to ``max_draws`` evenly spaced draws, values as float arrays."""
        raw = posterior["Z"].values.reshape(-1, *posterior["Z"].shape[2:])
        hypers = self.per_draw(posterior)
        chosen = np.unique(np.linspace(0, len(raw) - 1, min(max_draws, len(raw))).round().astype(int))
        return [
            (int(i), raw[i], {k: np.asarray(v, dtype=float) for k, v in hypers[i].items()}) for i in chosen
        ]

    def first_draw(self, posterior: xr.Dataset) -> Values:
        """The values of the first draw: for a point estimate, the point."""
        return self.per_draw(posterior.isel(chain=[0], draw=[0]))[0]

    def form_values(self, posterior: xr.Dataset) -> Values:
        """The form's variational parameters (sparse: ``inducing``) at the first draw; {} for other forms."""
        first = self.first_draw(posterior)
        return {name: first[name] for name in self.form.parameters if name in first}

    def summary(self, posterior: xr.Dataset) -> dict[str, float | list[float]]:
        """Values for ``metrics.json``: posterior means of learned ones (a point has one draw), else fixed."""
        out: dict[str, float | list[float]] = {}
        for name, value in self.configured.items():
            if name in self.learned:
                value = posterior[name].mean(("chain", "draw")).values
            value = np.asarray(value, dtype=float)
            out[name] = value.tolist() if value.ndim else float(value)
        return out

    # ------------------------------------------------------------ NumPy densities

    def column_log_likelihoods(
        self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper, where: str = "at the fitted point"
    ) -> np.ndarray:
        """log N(y_d | 0, K(Z)) for each column of Y, shape (D,)."""
        return self.form.column_log_likelihoods(Z, Y, hyper, where)

    def log_likelihood(
        self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper, where: str = "at the fitted point"
    ) -> float:
        """Eq. 1 with its constant."""
        return self.form.log_likelihood_np(Z, Y, hyper, where)

    def log_prior(self, Z: np.ndarray, hyper: Hyper) -> float:
        """The prior on Z (iid Normal, or the structured one) plus the learned hyperparameters' priors.

        Densities are of the hyperparameters themselves (no Jacobian of PyMC's log transform):
        with the log-likelihood this is the quantity the MAP maximises.
        """
        prior, s = self.latent_prior, self.prior_scale
        if self.back_constraint is not None:  # the prior is on the whitened weights that set Z
            Z, s = np.asarray(hyper[WHITENED]), 1.0
        if prior is None:
            latents = float(-0.5 * np.sum((Z / s) ** 2) - Z.size * (np.log(s) + 0.5 * LOG_2PI))
        else:
            latents = prior.log_density_np(Z, prior.theta(hyper))
        return latents + self.hyperparameter_log_prior(hyper)

    def hyperparameter_log_prior(self, hyper: Hyper) -> float:
        """The priors of the learned hyperparameters, the latent prior's among them when learned."""
        out = sum(prior_log_density(hyper[name], self.priors[name]) for name in self.learned)
        prior = self.latent_prior
        if prior is not None and prior.learn:
            out += prior_log_density(prior.theta(hyper), prior.parameter_prior)
        return float(out)

    def log_posterior(
        self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper, where: str = "at the fitted point"
    ) -> float:
        """Unnormalised log posterior: eq. 1 with its constant plus :meth:`log_prior`."""
        return self.log_likelihood(Z, Y, hyper, where) + self.log_prior(Z, hyper)

    def analytic_optimum(self, Y: np.ndarray, hyper: Hyper) -> AnalyticOptimum | None:
        """The closed-form MAP of Z given the hyperparameters, when the kernel has one (and Y
        has no missing cell: then there is none)."""
        if np.isnan(Y).any() or self.back_constraint is not None:
            return None
        return self.kernel.analytic_optimum(Y, self.latent_dim, float(hyper["beta"]), self.prior_scale)
