"""MAP by ``pm.find_MAP``: L-BFGS-B with PyTensor gradients, restarted after a stall short of the optimum."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pymc as pm
from scipy.optimize import LbfgsInvHessProduct
from xarray import DataTree

from gplvm.config import MapConfig
from gplvm.data import Dataset
from gplvm.errors import NumericalError
from gplvm.inference.base import Fit, FitMethod, compile_options, starting_point
from gplvm.likelihood import describe
from gplvm.spec import ModelSpec

# A stalled line search counts as converged when a quasi-Newton step would still gain less than
# this fraction of the objective (see _stalled_at_optimum), or when up to MAX_RESTARTS fresh
# restarts gain less than RESTART_RTOL of it.
STALL_RTOL = 1e-8
MAX_RESTARTS = 3
RESTART_RTOL = 1e-12
CONVERGED_VERDICTS = ("converged", "newton decrement below tolerance", "restart made no progress")


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
    return Fit("map", idata=idata, compile_seconds=compile_seconds, fit_seconds=fit_seconds, info=info)


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


def check_point(fit: Fit, data: Dataset, spec: ModelSpec) -> None:
    """A MAP that left the region where K factorises must not pass as a result."""
    hyper = spec.first_draw(fit.idata.posterior.to_dataset())
    Z = fit.point_estimate()
    if not (np.all(np.isfinite(Z)) and all(np.all(np.isfinite(v)) for v in hyper.values())):
        raise NumericalError(f"the MAP optimiser diverged to non-finite values ({describe(hyper)})")
    spec.log_likelihood(Z, data.Y, hyper, where="at the MAP")


class MapMethod(FitMethod):
    """``inference=map``: the joint mode of Z and the learned hyperparameters."""

    name = "map"

    def __init__(self, cfg: MapConfig) -> None:
        self.cfg = cfg

    def fit(self, model: pm.Model, data: Dataset, spec: ModelSpec, seed: int) -> Fit:
        fit = fit_map(model, starting_point(data, spec, self.cfg.init, seed), self.cfg, seed)
        check_point(fit, data, spec)
        return fit
