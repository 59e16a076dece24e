"""NUTS by ``pm.sample`` (nutpie or PyMC's sampler), started by default at the MAP."""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import pymc as pm

from gplvm.config import Init, NutsConfig, Sampler
from gplvm.data.dataset import Dataset
from gplvm.inference.base import Fit, FitMethod, compile_options, starting_point
from gplvm.inference.map import MapMethod
from gplvm.model.latent_priors import WHITENED
from gplvm.model.pymc_model import build_model
from gplvm.model.spec import ModelSpec


def fit_nuts(
    model: pm.Model, start: dict[str, np.ndarray], cfg: NutsConfig, seed: int, map_fit: Fit | None = None
) -> Fit:
    """Sample the posterior with NUTS, starting every chain at ``start`` plus PyMC's U(-1, 1) jitter.

    The jitter is added in PyMC's unconstrained space, so a learned hyperparameter starts within
    a factor e of its start value.

    Parameters
    ----------
    model : pm.Model
        From :func:`gplvm.model.pymc_model.build_model`.
    start : dict
        Common start of the chains (the MAP by default): ``Z`` (N, Q) and optionally learned
        hyperparameters.
    cfg : NutsConfig
        Draws, tuning, chains, sampler and compile backend.
    seed : int
        Seed of the jitter and of the sampler.
    map_fit : Fit, optional
        The MAP fit that produced ``Z0``, kept in the result for reporting.
    """
    extra = {}
    if cfg.sampler == Sampler.pymc and multiprocessing.parent_process() is not None:
        # In a worker process (joblib launcher) the default start method pickles the model and
        # fails on "cannot pickle 'mmap.mmap' object"; forked chain processes inherit it instead.
        extra["mp_ctx"] = "fork"
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(
            draws=cfg.draws,
            tune=cfg.tune,
            chains=cfg.chains,
            cores=cfg.cores,
            random_seed=seed,
            nuts_sampler=cfg.sampler.value,
            initvals=start,
            nuts={"target_accept": cfg.target_accept},
            progressbar=cfg.progressbar,
            compute_convergence_checks=False,
            **compile_options(cfg.backend),
            **extra,
        )
    total = time.perf_counter() - t0
    # PyMC's sampler puts sampling_time on sample_stats, nutpie's on posterior.
    attrs = {**idata.posterior.attrs, **idata.sample_stats.attrs}
    sampling = float(attrs.get("sampling_time", total))
    info = {"draws": cfg.draws, "tune": cfg.tune, "chains": cfg.chains, "sampler": cfg.sampler.value}
    return Fit(
        "nuts",
        idata=idata,
        compile_seconds=total - sampling,
        fit_seconds=sampling,
        has_draws=True,
        info=info,
        start=map_fit,
    )


class NutsMethod(FitMethod):
    """``inference=nuts``: posterior draws of Z and the learned hyperparameters."""

    name = "nuts"

    def __init__(self, cfg: NutsConfig) -> None:
        self.cfg = cfg

    def fit(self, model: pm.Model, data: Dataset, spec: ModelSpec, seed: int) -> Fit:
        map_fit = None
        if self.cfg.init != Init.map:
            start = starting_point(data, spec, self.cfg.init, seed)
        else:
            map_fit = MapMethod(self.cfg.map).fit(model, data, spec, seed)
            names = (spec.latent_variable, *spec.free_hyperparameters, *spec.form.parameters)
            start = {name: map_fit.point_estimate(name) for name in names}
        fixed = {name: start.pop(name) for name in spec.form.parameters}
        prior = spec.latent_prior
        noncentred = prior is not None and prior.noncentred_ok
        if noncentred:
            # Sampled non-centred: the chains start at the same latents, whitened.
            start[WHITENED] = prior.whiten(start.pop("Z"), prior.theta(start))
        if fixed or noncentred:
            # NUTS samples the model's variables, not the bound's variational parameters: the
            # inducing inputs stay where the MAP (or the start) put them.
            model = build_model(data, spec, fixed=fixed, noncentred=noncentred)
        return fit_nuts(model, start, self.cfg, seed, map_fit=map_fit)
