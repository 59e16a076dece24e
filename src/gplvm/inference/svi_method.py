"""``inference=svi``: the Bayesian GPLVM by minibatch stochastic variational inference.

The fit (:func:`gplvm.inference.svi.fit_svi`) climbs the uncollapsed bound on batches of rows;
the run then holds what ``inference=variational`` holds (draws from q(Z) as the posterior, q as the
``variational`` group) plus q(u) (``q_u_mean``, ``q_u_chol`` in ``variational``) and the climb's
trace (the ``svi_trace`` group: each epoch's mean bound estimate and step size), so inspection,
projection, comparison and imputation read it as they read a variational run.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import xarray as xr

from gplvm.config import Noise, SVIConfig
from gplvm.data.dataset import Dataset
from gplvm.errors import ConfigError, NumericalError
from gplvm.inference.base import Fit, FitMethod, compile_mode, starting_point
from gplvm.inference.svi import Schedule, SVIFit, fit_svi
from gplvm.inference.svi_counts import CountData
from gplvm.inference.svi_objectives import CountObjective, GaussianObjective, SVIObjective
from gplvm.inference.variational import draws_from_q, initial_variances, mean_fit, q_tree
from gplvm.model.forms import describe
from gplvm.model.latent_priors import QMoments
from gplvm.model.pymc_model import coords_for
from gplvm.model.spec import ModelSpec

log = logging.getLogger(__name__)


def _point_posterior(fit: SVIFit, data: Dataset, spec: ModelSpec) -> xr.Dataset:
    """The fitted hyperparameters and inducing inputs as a one-draw posterior (PyMC's dims)."""
    variables = {}
    for name in spec.learned:
        value = np.asarray(fit.hyper[name], dtype=float)
        dims = ("latent_dim",) if value.ndim else ()
        variables[name] = (("chain", "draw", *dims), value[None, None])
    for name, dims in spec.form.parameter_dims.items():
        variables[name] = (("chain", "draw", *dims), fit.hyper[name][None, None])
    variables["Z_mean"] = (("chain", "draw", "obs", "latent_dim"), fit.mean[None, None])
    return xr.Dataset(variables, coords={"chain": [0], "draw": [0], **coords_for(data, spec)})


def _constant_data(data: Dataset, spec: ModelSpec) -> xr.Dataset:
    """Y and the fixed hyperparameters, as a PyMC model's ``pm.Data`` would store them."""
    fixed = {
        name: (("latent_dim",) if np.ndim(value) else (), np.asarray(value, dtype=float))
        for name, value in spec.configured.items()
        if name not in spec.learned
    }
    return xr.Dataset(
        {"Y": (("obs", "feature"), np.asarray(data.Y)), **fixed},
        coords={"feature": np.asarray(data.feature_names, dtype=str)},
    )


def _trace_group(fit: SVIFit) -> xr.Dataset:
    epochs = np.arange(1, fit.trace.epochs + 1)
    return xr.Dataset(
        {
            "bound": ("epoch", np.asarray(fit.trace.bounds)),
            "step_size": ("epoch", np.asarray(fit.trace.rates)),
        },
        coords={"epoch": epochs},
        attrs={"bound": "each epoch's mean of its steps' minibatch estimates of the bound"},
    )


class SVIMethod(FitMethod):
    """``inference=svi``: the uncollapsed sparse bound, climbed by Adam on batches of rows."""

    name = "svi"

    def __init__(self, cfg: SVIConfig) -> None:
        self.cfg = cfg

    def build_model(self, data: Dataset, spec: ModelSpec) -> None:
        """No PyMC model: the objective is compiled from the spec by the fit itself."""
        return None

    def check_data(self, data: Dataset, spec: ModelSpec) -> None:
        if self.cfg.batch_size > data.n_obs:
            raise ConfigError(
                f"inference.batch_size={self.cfg.batch_size} is invalid: it must lie in [1, {data.n_obs}]"
                f" (the {data.n_obs} rows)"
            )
        if data.n_missing:
            raise ConfigError(
                f"inference=svi needs complete data, and this has {data.n_missing} missing cells;"
                " use inference=variational, which integrates over them"
            )
        if spec.noise != Noise.gaussian:
            CountData.of(data, spec)

    def fit(self, model: None, data: Dataset, spec: ModelSpec, seed: int) -> Fit:
        self.check_data(data, spec)
        mode = compile_mode(self.cfg.backend)
        counts = None
        if spec.noise == Noise.gaussian:
            start = starting_point(data, spec, self.cfg.init, seed)
            Z0 = start.pop("Z")
        else:
            counts = CountData.of(data, spec)
            start = counts.starting_point(spec, self.cfg.init, seed)
            Z0 = start["Z_mean"]
        variances = initial_variances(Z0.shape, self.cfg.init_variance, spec.prior_scale, seed)
        start = {**start, "Z_mean": Z0, "Z_var": variances}
        began = time.perf_counter()
        if counts is None:
            objective: SVIObjective = GaussianObjective(spec, data.Y, spec.prior_scale, mode)
        else:
            objective = CountObjective(spec, counts.counts, counts.log_size, spec.prior_scale, mode, seed)
        compile_seconds = time.perf_counter() - began
        schedule = Schedule.from_config(self.cfg, data.n_obs)
        began = time.perf_counter()
        fit = fit_svi(objective, start, schedule, seed)
        fit_seconds = time.perf_counter() - began
        arrays = [
            fit.mean,
            fit.variance,
            fit.q_u_mean,
            fit.q_u_chol,
            *fit.hyper.values(),
            *fit.extra.values(),
        ]
        if not (np.isfinite(fit.elbo) and all(np.all(np.isfinite(a)) for a in arrays)):
            hyper = {n: fit.hyper[n] for n in spec.learned}
            raise NumericalError(
                f"the minibatch fit diverged to non-finite values ({describe(hyper)}); lower"
                f" inference.learning_rate (now {self.cfg.learning_rate:g})"
            )
        result = self._fit_result(fit, data, spec, seed, compile_seconds, fit_seconds)
        if counts is not None:
            result.columns = counts.draw_columns(result.idata.posterior.to_dataset(), fit, spec)
            constant = result.idata["constant_data"].to_dataset()
            result.idata["constant_data"] = constant.assign(size_factor=("obs", np.exp(counts.log_size)))
        return result

    def _fit_result(
        self,
        fit: SVIFit,
        data: Dataset,
        spec: ModelSpec,
        seed: int,
        compile_seconds: float,
        fit_seconds: float,
    ) -> Fit:
        point = {"Z_mean": fit.mean, "Z_var": fit.variance}
        q = QMoments(fit.mean, fit.variance)
        Z = draws_from_q(fit.mean, fit.variance, self.cfg.chains, self.cfg.draws, seed)
        posterior = _point_posterior(fit, data, spec)
        q_u = {
            "q_u_mean": (("inducing_point", "feature"), fit.q_u_mean),
            "q_u_chol": (("inducing_point", "inducing_point_"), fit.q_u_chol),
        }
        if "bias" in fit.extra:
            q_u["column_bias"] = ("feature", fit.extra["bias"])
        if "log_dispersion" in fit.extra:
            q_u["dispersion"] = ("feature", np.exp(fit.extra["log_dispersion"]))
        groups = {"constant_data": _constant_data(data, spec), "svi_trace": _trace_group(fit)}
        tree = q_tree(point, Z, q, posterior, spec, groups, q_u)
        trace = fit.trace
        if not trace.converged:
            log.warning(
                "SVI stopped at the epoch cap (%d) before the smoothed bound levelled off at the"
                " smallest step size: raise inference.epochs, or inference.learning_rate to climb faster",
                trace.epochs,
            )
        info = {
            "elbo": fit.elbo,
            "iterations": trace.steps,
            "epochs": trace.epochs,
            "batch_size": min(self.cfg.batch_size, data.n_obs),
            "final_step_size": trace.rates[-1],
            "converged": trace.converged,
            "convergence": trace.verdict,
            "draws": self.cfg.draws,
            "chains": self.cfg.chains,
            "init": self.cfg.init.value,
            "noise": spec.noise,
        }
        return Fit(
            "svi",
            idata=tree,
            compile_seconds=compile_seconds,
            fit_seconds=fit_seconds,
            has_draws=True,
            info=info,
            start=mean_fit(point, posterior, spec, "svi"),
        )
