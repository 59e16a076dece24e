"""Fit a GPLVM model by MAP (``pm.find_MAP``) or NUTS (``pm.sample``).

Both return a :class:`Fit`: a DataTree in ArviZ's layout plus the timings that separate
compilation from optimisation or sampling, which dominate in opposite regimes.
"""

from __future__ import annotations

import multiprocessing
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
from scipy.optimize import LbfgsInvHessProduct
from xarray import DataTree

from gplvm.config import Init, MapConfig, NutsConfig, Sampler
from gplvm.data import Dataset

# A stalled line search counts as converged when a quasi-Newton step would still gain less than
# this fraction of the objective (see _stalled_at_optimum), or when up to MAX_RESTARTS fresh
# restarts gain less than RESTART_RTOL of it.
STALL_RTOL = 1e-8
MAX_RESTARTS = 3
RESTART_RTOL = 1e-12
CONVERGED_VERDICTS = ("converged", "newton decrement below tolerance", "restart made no progress")


@dataclass
class Fit:
    """What a fit produced.

    Attributes
    ----------
    idata : DataTree
        ``posterior`` (one draw for MAP), ``sample_stats`` for NUTS, ``constant_data`` and, for
        MAP, ``optimizer_result``.
    compile_seconds : float
        Time before the first optimiser iteration or the first draw: graph rewriting and compiling.
    fit_seconds : float
        Time spent optimising or sampling.
    info : dict
        Method-specific figures, such as iterations and convergence for MAP.
    map_fit : Fit or None
        For NUTS started at the MAP, the MAP fit it started from.
    """

    idata: DataTree
    compile_seconds: float
    fit_seconds: float
    info: dict = field(default_factory=dict)
    map_fit: Fit | None = None

    def point_estimate(self, name: str = "Z") -> np.ndarray:
        """A variable at the MAP fit (or at the MAP that NUTS started from); Z has shape (N, Q)."""
        fit = self if self.map_fit is None else self.map_fit
        return fit.idata.posterior[name].values[0, 0]


def initial_latents(data: Dataset, latent_dim: int, init: Init, prior_scale: float, seed: int) -> np.ndarray:
    """Starting Z: PCA scores scaled to unit variance per dim, or a seeded draw from the prior.

    Neither start is Z = 0, which is a saddle point of the posterior.
    """
    rng = np.random.default_rng(seed)
    if init == Init.pca:
        U, _, _ = np.linalg.svd(data.Y, full_matrices=False)
        Z = np.zeros((data.n_obs, latent_dim))
        k = min(latent_dim, U.shape[1])
        Z[:, :k] = U[:, :k] * np.sqrt(data.n_obs)
        # Dims beyond rank(Y) get small noise so that the start is not a saddle there either.
        Z[:, k:] = 1e-3 * rng.standard_normal((data.n_obs, latent_dim - k))
        return Z
    if init == Init.random:
        return prior_scale * rng.standard_normal((data.n_obs, latent_dim))
    raise ValueError(f"init {init.value!r} needs a fitted MAP; use pca or random here")


def compile_options(backend: str) -> dict:
    """Keyword arguments that select a PyTensor backend in ``pm.find_MAP`` and ``pm.sample``.

    ``python`` is PyTensor's FAST_COMPILE mode: NumPy implementations of each op and few graph
    rewrites, so it compiles in a fraction of a second. The linear-kernel objective is a handful
    of BLAS calls, so on small and medium data it is as fast to run as compiled code.
    """
    return {"compile_kwargs": {"mode": "FAST_COMPILE"}} if backend == "python" else {"backend": backend}


def fit_map(model: pm.Model, start: dict[str, np.ndarray], cfg: MapConfig, seed: int) -> Fit:
    """Maximise the log posterior with ``pm.find_MAP`` (L-BFGS-B with PyTensor gradients).

    Parameters
    ----------
    model : pm.Model
        From :func:`gplvm.model.build_model`.
    start : dict
        Starting values: ``Z`` (N, Q) and optionally learned hyperparameters (else the model's
        initial values).
    cfg : MapConfig
        Optimiser settings and compile backend.
    seed : int
        Seed recorded by PyMC (the start is deterministic already).
    """
    idata, compile_seconds, fit_seconds, texts = _find_map(model, start, cfg, seed)
    result = idata["optimizer_result"]
    iterations = int(result["nit"].values)
    verdict = _map_verdict(result)
    restarts = 0
    # After a line-search failure short of the optimum, restart with a fresh L-BFGS memory: either
    # it makes progress, or the point is as good as floating point allows.
    while verdict == "stalled" and restarts < MAX_RESTARTS:
        restarts += 1
        point = {name: idata.posterior[name].values[0, 0] for name in start}
        new, extra_compile, extra_fit, new_texts = _find_map(model, point, cfg, seed)
        fit_seconds += extra_compile + extra_fit
        texts |= new_texts
        new_result = new["optimizer_result"]
        iterations += int(new_result["nit"].values)
        old_f, new_f = float(result["fun"].values), float(new_result["fun"].values)
        if old_f - new_f <= RESTART_RTOL * max(1.0, abs(old_f)):
            verdict = "restart made no progress"
            break
        idata, result = new, new_result
        verdict = _map_verdict(result)
    message = str(result["message"].values)
    converged = verdict in CONVERGED_VERDICTS
    ignored = ["could not link to a BLAS"] + (["did not converge: ABNORMAL"] if converged else [])
    info = {
        "iterations": iterations,
        "restarts": restarts,
        "gradient_max_abs": float(np.max(np.abs(result["jac"].values))),
        "converged": converged,
        "convergence": verdict,
        "optimizer_message": message,
        "warnings": sorted(t for t in texts if not any(i in t for i in ignored)),
    }
    return Fit(idata=idata, compile_seconds=compile_seconds, fit_seconds=fit_seconds, info=info)


def _find_map(
    model: pm.Model, start: dict[str, np.ndarray], cfg: MapConfig, seed: int
) -> tuple[DataTree, float, float, set[str]]:
    """One ``pm.find_MAP`` call: (result, seconds before the first iteration, seconds after, warnings)."""
    first_iteration: list[float] = []

    def mark_first_iteration(*_args) -> None:
        if not first_iteration:
            first_iteration.append(time.perf_counter())

    # SciPy caps evaluations at 15,000 whatever maxiter says; line searches need about 1.2 per step.
    options = {
        "maxiter": cfg.maxiter,
        "maxfun": 2 * cfg.maxiter,
        "ftol": cfg.ftol,
        "gtol": cfg.gtol,
        "maxcor": cfg.maxcor,
    }
    t0 = time.perf_counter()
    with model, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        idata = pm.find_MAP(
            method="L-BFGS-B",
            initvals=start,
            jitter=False,
            random_seed=seed,
            progressbar=False,
            return_inferencedata=True,
            callback=mark_first_iteration,
            **compile_options(cfg.backend),
            options=options,
        )
    end = time.perf_counter()
    split = first_iteration[0] if first_iteration else end
    return idata, split - t0, end - split, {str(w.message).splitlines()[0] for w in caught}


def _map_verdict(result) -> str:
    """How L-BFGS-B ended: ``converged``, ``newton decrement below tolerance`` or ``stalled``."""
    message = str(result["message"].values)
    if bool(result["success"].values):
        return "converged"
    if _stalled_at_optimum(result, message):
        return "newton decrement below tolerance"
    return "stalled" if message.startswith("ABNORMAL") else "not converged"


def _stalled_at_optimum(result, message: str) -> bool:
    """Whether an L-BFGS-B line-search failure happened at the optimum, within rounding.

    With ``ftol=0`` L-BFGS-B runs until no step decreases the objective; at that point it reports
    ABNORMAL. Accept it when the Newton decrement g^T H^-1 g / 2, the gain that a quasi-Newton
    step predicts with L-BFGS's own inverse Hessian H^-1, is below ``STALL_RTOL * |f|``. A
    gradient threshold would not do: a dense rbf K with condition number 1e5 stalls with
    gradients near 1e-4 although the predicted gain is 1e-9 of |f|, below what rounding of f
    resolves.
    """
    if not message.startswith("ABNORMAL") or "hess_inv_sk" not in result:
        return False
    g = result["jac"].values
    inverse_hessian = LbfgsInvHessProduct(result["hess_inv_sk"].values, result["hess_inv_yk"].values)
    decrement = 0.5 * float(g @ inverse_hessian.matvec(g))
    return decrement <= STALL_RTOL * max(1.0, abs(float(result["fun"].values)))


def fit_nuts(
    model: pm.Model, start: dict[str, np.ndarray], cfg: NutsConfig, seed: int, map_fit: Fit | None = None
) -> Fit:
    """Sample the posterior with NUTS, starting every chain at ``start`` plus PyMC's U(-1, 1) jitter.

    The jitter is added in PyMC's unconstrained space, so a learned hyperparameter starts within
    a factor e of its start value.

    Parameters
    ----------
    model : pm.Model
        From :func:`gplvm.model.build_model`.
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
        idata=idata, compile_seconds=total - sampling, fit_seconds=sampling, info=info, map_fit=map_fit
    )
