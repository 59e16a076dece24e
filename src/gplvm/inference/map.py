"""MAP: SciPy's L-BFGS-B on the PyMC model's log density and PyTensor gradients, restarted after a stall."""

from __future__ import annotations

import logging
import time
import warnings
from datetime import UTC, datetime

import numpy as np
import pymc as pm
import xarray as xr
from scipy.optimize import LbfgsInvHessProduct
from xarray import DataTree

from gplvm.config import Init, MapConfig
from gplvm.data.dataset import Dataset
from gplvm.errors import ConfigError, NumericalError
from gplvm.inference.base import (
    Fit,
    FitMethod,
    compile_mode,
    starting_point,
    with_back_constrained_latents,
)
from gplvm.inference.progress import Progress
from gplvm.model.forms import describe
from gplvm.model.forms.dense import Dense
from gplvm.model.kernels.linear import Linear
from gplvm.model.pymc_model import build_model
from gplvm.model.spec import ModelSpec

# A stalled line search counts as converged when a quasi-Newton step would still gain less than
# this fraction of the objective (see _stalled_at_optimum), or when up to MAX_RESTARTS fresh
# restarts gain less than RESTART_RTOL of it.
STALL_RTOL = 1e-8
MAX_RESTARTS = 3
RESTART_RTOL = 1e-12
CONVERGED_VERDICTS = (
    "converged",
    "gain below tol",
    "newton decrement below tolerance",
    "restart made no progress",
)

log = logging.getLogger(__name__)


def fit_map(model: pm.Model, start: dict[str, np.ndarray], cfg: MapConfig, seed: int) -> Fit:
    """Maximise the log posterior with L-BFGS-B and PyTensor gradients, restarting after a stall.

    Parameters
    ----------
    model : pm.Model
        From :func:`gplvm.model.pymc_model.build_model`.
    start : dict
        Starting values: ``Z`` (N, Q) and optionally learned hyperparameters (else the model's
        initial values).
    cfg : MapConfig
        Optimiser settings and compile backend.
    seed : int
        Seed recorded by PyMC (the start is deterministic already).
    """
    compiled: dict[str, _Objective] = {}  # one compile serves the restarts too
    idata, compile_seconds, fit_seconds, texts = _find_map(model, start, cfg, seed, compiled)
    result = idata["optimizer_result"]
    iterations = int(result["nit"].values)
    verdict = _map_verdict(result)
    restarts = 0
    # After a line-search failure short of the optimum, restart with a fresh L-BFGS memory: either
    # it makes progress, or the point is as good as floating point allows.
    while verdict == "stalled" and restarts < MAX_RESTARTS:
        restarts += 1
        point = {name: idata.posterior[name].values[0, 0] for name in start}
        new, extra_compile, extra_fit, new_texts = _find_map(model, point, cfg, seed, compiled)
        fit_seconds += extra_compile + extra_fit
        texts |= new_texts
        new_result = new["optimizer_result"]
        iterations += int(new_result["nit"].values)
        old_f, new_f = float(result["fun"].values), float(new_result["fun"].values)
        if int(new_result["nit"].values) == 0:
            # Its first line search failed too (a trial step gave a non-finite objective): that
            # proves nothing about the point, which stays stalled.
            break
        if old_f - new_f <= RESTART_RTOL * max(1.0, abs(old_f)):
            verdict = "restart made no progress"
            break
        idata, result = new, new_result
        verdict = _map_verdict(result)
    message = str(result["message"].values)
    if verdict == "gain below tol":
        message = f"gained less than {cfg.tol:g} x |objective| over the last {cfg.tol_window} iterations"
    converged = verdict in CONVERGED_VERDICTS
    if verdict == "not converged":
        log.warning(
            "%s stopped after %d iterations without converging (%s): raise inference.maxiter"
            " (now %d) to go further, or inference.tol (now %g) to stop sooner",
            cfg.method.upper(),
            iterations,
            message,
            cfg.maxiter,
            cfg.tol,
        )
    ignored = ["could not link to a BLAS"] + (["did not converge: ABNORMAL"] if converged else [])
    info = {
        "iterations": iterations,
        "restarts": restarts,
        "lbfgs_maxcor": int(result["maxcor"].values) if "maxcor" in result else None,
        "gradient_max_abs": float(np.max(np.abs(result["jac"].values))),
        "converged": converged,
        "convergence": verdict,
        "optimizer_message": message,
        "warnings": sorted(t for t in texts if not any(i in t for i in ignored)),
    }
    return Fit("map", idata=idata, compile_seconds=compile_seconds, fit_seconds=fit_seconds, info=info)


class _Objective:
    """-log p(Z, theta | Y) without the log-transform Jacobian, and its gradient, over one flat vector.

    One compiled function gives both, in PyMC's unconstrained space (what ``pm.find_MAP``
    optimises too). Built here rather than through ``pm.find_MAP``: that compiles two more
    functions and converts its result through ArviZ, which together cost more than the fit
    itself on data of digits' size.
    """

    def __init__(self, model: pm.Model, backend: str) -> None:
        import pytensor

        self.model = model
        self.value_vars = list(model.value_vars)
        loss = -model.logp(jacobian=False)
        grads = pytensor.grad(loss, self.value_vars)
        # The python backend needs no C compiler; without one PyTensor skips probing gcc (0.3 s).
        flags = {"cxx": ""} if backend == "python" else {}
        with pytensor.config.change_flags(**flags):
            self.fn = pytensor.function(self.value_vars, [loss, *grads], mode=compile_mode(backend))
        self.shapes: list[tuple[int, ...]] = []

    def _transform(self, name: str):
        return self.model.rvs_to_transforms.get(self.model[name])

    def flatten(self, start: dict[str, np.ndarray]) -> np.ndarray:
        """The starting values (constrained, by variable name) as one unconstrained vector."""
        parts = []
        for value_var in self.value_vars:
            name = self.model.values_to_rvs[value_var].name
            value = np.asarray(start[name], dtype=float)
            transform = self._transform(name)
            if transform is not None:
                value = _evaluate(transform.forward(value))
            parts.append(value)
        self.shapes = [p.shape for p in parts]
        return np.concatenate([p.ravel() for p in parts])

    def split(self, x: np.ndarray) -> list[np.ndarray]:
        """The flat vector as one array per value variable."""
        sizes = [int(np.prod(shape)) for shape in self.shapes]
        pieces = np.split(x, np.cumsum(sizes)[:-1])
        return [piece.reshape(shape) for piece, shape in zip(pieces, self.shapes, strict=True)]

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, *grads = self.fn(*self.split(x))
        self.last_gradient = np.concatenate([np.ravel(g) for g in grads])
        return float(loss), self.last_gradient

    def point(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Constrained values by variable name."""
        out = {}
        for value_var, value in zip(self.value_vars, self.split(x), strict=True):
            name = self.model.values_to_rvs[value_var].name
            transform = self._transform(name)
            out[name] = value if transform is None else _evaluate(transform.backward(value))
        return out


def _evaluate(expression) -> np.ndarray:
    """A constant PyTensor expression's value, compiled by the python backend: ``.eval()`` alone
    takes PyTensor's default mode (numba's linker), 0.1-0.3 s a call, and a fit calls it twice
    per free variable (0.95 s of a Bayesian GPLVM run on digits; now 0.04 s)."""
    import pytensor

    with pytensor.config.change_flags(cxx=""):
        return np.asarray(expression.eval(mode=compile_mode("python")), dtype=float)


def _tree(model: pm.Model, point: dict[str, np.ndarray], result, maxcor: int) -> DataTree:
    """The optimum as a DataTree in ArviZ's layout: a one-draw posterior, data and the optimiser's result."""
    import scipy

    dims = model.named_vars_to_dims

    def coords(names) -> dict:
        return {d: np.asarray(model.coords[d]) for n in names for d in dims.get(n, ()) if model.coords.get(d)}

    posterior = xr.Dataset(
        {name: (("chain", "draw", *dims.get(name, ())), value[None, None]) for name, value in point.items()},
        coords={"chain": [0], "draw": [0], **coords(point)},
    )
    data = {var.name: var.get_value(borrow=True) for var in model.data_vars}
    constant = xr.Dataset(
        {name: (dims.get(name, ()), value) for name, value in data.items()}, coords=coords(data)
    )
    hess_inv = result.hess_inv
    optimizer = xr.Dataset(
        {
            "fun": result.fun,
            "jac": ("variables", result.jac),
            "nfev": result.nfev,
            "njev": result.njev,
            "nit": result.nit,
            "status": result.status,
            "message": str(result.message),
            "x": ("variables", result.x),
            "success": bool(result.success),
            "hess_inv_sk": (("lbfgs_corrections", "variables"), hess_inv.sk),
            "hess_inv_yk": (("lbfgs_corrections", "variables"), hess_inv.yk),
            "method": "L-BFGS-B",
            "maxcor": maxcor,
        }
    )
    attrs = {
        "created_at": datetime.now(UTC).isoformat(),
        "inference_library": "scipy",
        "inference_library_version": scipy.__version__,
    }
    groups = {"posterior": posterior, "constant_data": constant, "optimizer_result": optimizer}
    tree = DataTree.from_dict(groups)
    tree.attrs = attrs
    return tree


def history_length(cfg: MapConfig, n_params: int) -> int:
    """L-BFGS memory: ``maxcor`` correction pairs, fewer if they would exceed ``history_mb``.

    Each pair holds two float64 vectors of ``n_params``; at least 3 pairs are kept. On the 10^6-row
    digits-like benchmark 10 pairs converged in as many iterations as 30.
    """
    affordable = int(cfg.history_mb * 2**20 // (16 * max(n_params, 1)))
    return max(3, min(cfg.maxcor, affordable))


def _find_map(
    model: pm.Model, start: dict[str, np.ndarray], cfg: MapConfig, seed: int, compiled: dict
) -> tuple[DataTree, float, float, set[str]]:
    """One L-BFGS-B run: (result, seconds before the first iteration, seconds after, warnings).

    ``compiled`` keeps the compiled objective between the runs of one fit (its restarts).
    ``seed`` is unused: the start is deterministic and L-BFGS-B has no randomness.
    """
    from scipy.optimize import minimize

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        if "objective" not in compiled:
            compiled["objective"] = _Objective(model, cfg.backend)
        objective = compiled["objective"]
        x0 = objective.flatten(start)
        objective(x0)  # numba compiles on the first call
        split = time.perf_counter()
        # SciPy caps evaluations at 15,000 whatever maxiter says; line searches need about 1.2 per step.
        options = {
            "maxiter": cfg.maxiter,
            "maxfun": 2 * cfg.maxiter,
            "ftol": cfg.ftol,
            "gtol": cfg.gtol,
            "maxcor": history_length(cfg, x0.size),
        }
        progress = Progress(objective, cfg.progress_seconds, cfg.method.upper(), cfg.tol, cfg.tol_window)
        result = minimize(objective, x0, jac=True, method="L-BFGS-B", options=options, callback=progress)
        if not np.isfinite(result.fun):
            # A line search that ends on a non-finite trial value reports that value with the last
            # good x (seen on digits' Bayesian GPLVM): record the objective at x itself.
            result.fun, result.jac = objective(result.x)
        tree = _tree(model, objective.point(result.x), result, options["maxcor"])
    end = time.perf_counter()
    return tree, split - t0, end - split, {str(w.message).splitlines()[0] for w in caught}


def _map_verdict(result) -> str:
    """How L-BFGS-B ended: ``converged``, ``gain below tol``, ``newton decrement below tolerance``,
    ``stalled`` or ``not converged``."""
    message = str(result["message"].values)
    if bool(result["success"].values):
        return "converged"
    if "StopIteration" in message:
        return "gain below tol"
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


# inference.init=auto starts a dense fit from a sparse one above this many rows per inducing input.
SPARSE_START_ROWS_PER_INDUCING = 4


def resolve_init(init: Init, data: Dataset, spec: ModelSpec) -> Init:
    """``auto`` as ``sparse`` for a non-linear kernel's dense likelihood on more than 4 M rows
    (where a sparse fit is much cheaper than a dense one and lands near its optimum), else
    ``pca``; any other value as given.

    On fewer rows the sparse fit costs about as much as the dense one: iris (150 rows, M = 64)
    took 17 s from a sparse start, to a lower optimum, and 5.8 s from PCA.
    """
    if init != Init.auto:
        return init
    dense = isinstance(spec.form, Dense) and not isinstance(spec.kernel, Linear)
    many_rows = data.n_obs > SPARSE_START_ROWS_PER_INDUCING * spec.num_inducing
    return Init.sparse if dense and many_rows else Init.pca


def sparse_start(data: Dataset, spec: ModelSpec, cfg: MapConfig, seed: int) -> tuple[dict, Fit]:
    """A dense fit's start: the latents and learned hyperparameters of a sparse MAP of the same model."""
    if not isinstance(spec.form, Dense):
        raise ConfigError(
            f"inference.init=sparse starts a dense fit from a sparse one; this model's likelihood is"
            f" {spec.form.name}: use inference.init=pca"
        )
    sparse = spec.as_sparse()
    log.info("Starting from a sparse MAP (M = %d inducing inputs)", sparse.form.inducing_count(data.n_obs))
    fit = fit_map(build_model(data, sparse), starting_point(data, sparse, Init.pca, seed), cfg, seed)
    posterior = fit.idata.posterior
    start = {
        spec.latent_variable: fit.point_estimate(spec.latent_variable),
        **{name: posterior[name].values[0, 0] for name in spec.free_hyperparameters},
    }
    return start, fit


class MapMethod(FitMethod):
    """``inference=map``: the joint mode of Z and the learned hyperparameters."""

    name = "map"

    def __init__(self, cfg: MapConfig) -> None:
        self.cfg = cfg

    def fit(self, model: pm.Model, data: Dataset, spec: ModelSpec, seed: int) -> Fit:
        init = resolve_init(self.cfg.init, data, spec)
        first = None
        if init == Init.sparse:
            start, first = sparse_start(data, spec, self.cfg, seed)
        else:
            start = starting_point(data, spec, init, seed)
        fit = with_back_constrained_latents(fit_map(model, start, self.cfg, seed), data, spec)
        check_point(fit, data, spec)
        fit.info["init"] = init.value
        if first is not None:
            fit.info["sparse_start"] = {
                "iterations": first.info["iterations"],
                "converged": first.info["converged"],
                "seconds": first.compile_seconds + first.fit_seconds,
            }
            fit.compile_seconds += first.compile_seconds
            fit.fit_seconds += first.fit_seconds
        return fit
