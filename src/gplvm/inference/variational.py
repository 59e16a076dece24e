"""The Bayesian GPLVM: a Gaussian q(Z) fitted by maximising the evidence lower bound with L-BFGS-B.

q(Z) = prod_n N(mu_n, diag S_n). The bound is the sparse (inducing-point) bound with Z integrated
over q, in closed form through the kernel's psi statistics, minus KL(q(Z) || p(Z)); learned
hyperparameters sit at their MAP under their priors. The optimiser is the MAP's, on the model of
:func:`gplvm.model.pymc_model.build_variational_model`. The run's posterior then holds draws from q, so that
everything written for a sampler's draws (alignment, invariants, plots, ArviZ) applies.
"""

from __future__ import annotations

import logging

import numpy as np
import pymc as pm
import xarray as xr
from xarray import DataTree

from gplvm.config import VariationalConfig
from gplvm.data.dataset import Dataset
from gplvm.errors import NumericalError
from gplvm.inference.base import Fit, FitMethod, starting_point
from gplvm.inference.map import fit_map
from gplvm.model.forms import describe
from gplvm.model.latent_priors import QMoments
from gplvm.model.pymc_model import build_variational_model
from gplvm.model.spec import ModelSpec

log = logging.getLogger(__name__)

DRAWS_WARN_BYTES = 2**30


def draws_from_q(mean: np.ndarray, variance: np.ndarray, chains: int, draws: int, seed: int) -> np.ndarray:
    """Independent draws of Z from q, shape (chains, draws, N, Q); a warning when they (and the
    run's aligned copy of them) would take over 1 GiB."""
    draw_bytes = 2 * 8 * chains * draws * mean.size  # Z and Z_aligned
    if draw_bytes > DRAWS_WARN_BYTES:
        log.warning(
            "the %d x %d draws of Z take %.1f GiB in memory and in posterior.nc (with their aligned"
            " copy); lower inference.draws or inference.chains to save memory and time",
            chains,
            draws,
            draw_bytes / 2**30,
        )
    Z = np.random.default_rng(seed).standard_normal((chains, draws, *mean.shape))
    Z *= np.sqrt(variance)  # in place: at 10^5 rows the stack of draws is 150 MB
    Z += mean
    return Z


def draws_from_gp_q(
    mean: np.ndarray, covariances: list[np.ndarray], chains: int, draws: int, seed: int
) -> np.ndarray:
    """Independent draws of Z from the GP prior's q (each latent dim a full N x N Gaussian)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((chains, draws, *mean.shape))
    Z = np.empty_like(noise)
    for q, S in enumerate(covariances):
        L = np.linalg.cholesky(S + 1e-12 * np.trace(S) / len(S) * np.eye(len(S)))
        Z[..., q] = mean[:, q] + noise[..., q] @ L.T
    return Z


def initial_variances(
    shape: tuple[int, int], init_variance: float, prior_scale: float, seed: int
) -> np.ndarray:
    """Starting S_nq: seeded uniform draws in (0, init_variance] x prior_scale^2, as GPy's.

    Distinct starts break the symmetry between rows and dims that one common value keeps: on
    digits and breast cancer (Q = 2, 5, 10) they reached a higher bound than a common 0.1,
    mostly in fewer iterations (docs/performance.md).
    """
    rng = np.random.default_rng([seed, 1])  # its own stream: the means' start is seeded by seed
    return (1.0 - rng.random(shape)) * init_variance * prior_scale**2


def q_tree(
    point: dict[str, np.ndarray],
    Z: np.ndarray,
    q: QMoments,
    posterior: xr.Dataset,
    spec: ModelSpec,
    groups: dict[str, xr.Dataset],
    extra_q: dict[str, xr.DataArray] | None = None,
) -> DataTree:
    """Draws from q as the posterior (hyperparameters and inducing inputs, from the one-draw
    ``posterior`` of the fit, repeated); q as ``variational``, with ``log_q`` (chain, draw), each
    draw's log density under q, and ``extra_q`` (q(u), say); beside the fit's other ``groups``."""
    chains, draws = Z.shape[:2]
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    variables = {"Z": (("chain", "draw", "obs", "latent_dim"), Z)}
    for name in (*spec.free_hyperparameters, *spec.form.parameters):
        value = posterior[name].values[0, 0]
        dims = posterior[name].dims[2:]
        variables[name] = (("chain", "draw", *dims), np.broadcast_to(value, (chains, draws, *value.shape)))
    draws_ds = xr.Dataset(variables, coords=coords).assign_coords(
        {d: posterior[d] for d in posterior.coords if d not in ("chain", "draw")}
    )
    family = "q(Z) = prod_n N(Z_mean[n], diag Z_var[n])"
    q_vars = {"Z_mean": point["Z_mean"], "Z_var": point["Z_var"]}
    log_q = (("chain", "draw"), q.log_density(Z))
    if spec.latent_prior is not None:
        family = spec.latent_prior.q_family
        q_vars |= {name: point[name] for name in spec.latent_prior.q_parameters}
    q_group = xr.Dataset(
        {name: (("obs", "latent_dim"), value) for name, value in q_vars.items()} | {"log_q": log_q},
        coords={"obs": posterior["obs"], "latent_dim": posterior["latent_dim"], **coords},
        attrs={"family": family},
    ).assign(extra_q or {})
    return DataTree.from_dict({"posterior": draws_ds, "variational": q_group, **groups})


def mean_fit(point: dict[str, np.ndarray], posterior: xr.Dataset, spec: ModelSpec, method: str) -> Fit:
    """q's means and the fitted hyperparameters (the one-draw ``posterior`` of the fit) as a
    one-draw point fit: the alignment reference."""
    names = (*spec.free_hyperparameters, *spec.form.parameters)
    point_ds = posterior[list(names)].assign(
        Z=(("chain", "draw", "obs", "latent_dim"), point["Z_mean"][None, None])
    )
    return Fit(
        method,
        idata=DataTree.from_dict({"posterior": point_ds}),
        compile_seconds=0.0,
        fit_seconds=0.0,
        description="q's means",
    )


class VariationalMethod(FitMethod):
    """``inference=variational``: the Bayesian GPLVM with the sparse bound and ARD-able kernels."""

    name = "variational"

    def __init__(self, cfg: VariationalConfig) -> None:
        self.cfg = cfg

    def build_model(self, data: Dataset, spec: ModelSpec) -> pm.Model:

        return build_variational_model(data, spec)

    def fit(self, model: pm.Model, data: Dataset, spec: ModelSpec, seed: int) -> Fit:
        start = starting_point(data, spec, self.cfg.init, seed)
        Z0 = start.pop("Z")
        variances = initial_variances(Z0.shape, self.cfg.init_variance, spec.prior_scale, seed)
        prior = spec.latent_prior
        if prior is None:
            start["Z_mean"], start["Z_var"] = Z0, variances
        else:
            start |= prior.q_start(Z0, variances, prior.theta(start))
        opt = fit_map(model, start, self.cfg, seed)
        point = {name: opt.idata.posterior[name].values[0, 0] for name in start}
        hyper = spec.first_draw(opt.idata.posterior.to_dataset())
        if not all(np.all(np.isfinite(v)) for v in point.values()):
            raise NumericalError(
                f"the variational optimiser diverged to non-finite values ({describe(hyper)})"
            )
        if prior is None:
            q = QMoments(point["Z_mean"], point["Z_var"])
        else:
            q = prior.q_at(point, prior.theta(hyper))
            point["Z_mean"], point["Z_var"] = q.mean, q.variance
        if q.covariances is None:
            Z = draws_from_q(q.mean, q.variance, self.cfg.chains, self.cfg.draws, seed)
        else:
            Z = draws_from_gp_q(q.mean, q.covariances, self.cfg.chains, self.cfg.draws, seed)
        log_prior = spec.hyperparameter_log_prior(hyper)
        info = {
            **opt.info,
            "elbo": -float(opt.idata["optimizer_result"]["fun"].values) - log_prior,
            "draws": self.cfg.draws,
            "chains": self.cfg.chains,
        }
        groups = {name: opt.idata[name].to_dataset() for name in ("constant_data", "optimizer_result")}
        tree = q_tree(point, Z, q, opt.idata.posterior.to_dataset(), spec, groups)
        tree.attrs = dict(opt.idata.attrs)
        return Fit(
            "variational",
            idata=tree,
            compile_seconds=opt.compile_seconds,
            fit_seconds=opt.fit_seconds,
            has_draws=True,
            info=info,
            start=mean_fit(point, opt.idata.posterior.to_dataset(), spec, "variational"),
        )
