"""When a stalled L-BFGS-B line search counts as converged."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import minimize

from gplvm.inference.map import STALL_RTOL, _stalled_at_optimum


def _result(fun: float, jac: np.ndarray, sk: np.ndarray, yk: np.ndarray) -> xr.Dataset:
    return xr.Dataset(
        {
            "fun": fun,
            "jac": ("x", jac),
            "hess_inv_sk": (("k", "x"), sk),
            "hess_inv_yk": (("k", "x"), yk),
        }
    )


def test_newton_decrement_decides_a_stalled_line_search():
    """With exact curvature pairs for H = diag(h), H^-1 g is g / h and the decrement g^2 / (2 h)."""
    h = np.array([1e4, 1.0])
    sk = np.eye(2)
    yk = sk * h  # secant pairs y = H s
    g = np.array([1e-4, 0.0])  # a large-looking gradient along a very stiff direction
    decrement = 0.5 * g[0] ** 2 / h[0]  # 5e-13
    assert decrement < STALL_RTOL * 1000
    assert _stalled_at_optimum(_result(1000.0, g, sk, yk), "ABNORMAL: ")
    # A gradient of 1e-3 along the soft direction predicts a gain of 5e-7 > 1e-8 * max(1, |f|).
    assert not _stalled_at_optimum(_result(0.1, np.array([0.0, 1e-3]), sk, yk), "ABNORMAL: ")
    # Other messages are decided by L-BFGS-B itself.
    assert not _stalled_at_optimum(_result(1000.0, g, sk, yk), "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")


def test_decrement_matches_scipys_inverse_hessian_on_a_quadratic():
    """On f = x^T A x / 2 after a few L-BFGS steps the decrement equals g^T A^-1 g / 2 within 10%."""
    A = np.diag([1.0, 10.0, 100.0])
    res = minimize(
        lambda x: 0.5 * x @ A @ x, np.ones(3), jac=lambda x: A @ x, method="L-BFGS-B", options={"maxiter": 3}
    )
    g = res.jac
    exact = 0.5 * g @ np.linalg.solve(A, g)
    approx = 0.5 * g @ res.hess_inv.matvec(g)
    assert abs(approx - exact) <= 0.1 * exact + 1e-14


def _canned(fun: float, message: str, nit: int) -> xr.DataTree:
    """What _find_map returns: a DataTree with a posterior and an optimizer_result."""
    result = _result(fun, np.array([1e-3, 0.0]), np.eye(2), np.eye(2))  # decrement 5e-7: too large
    result = result.assign(message=message, success=False, nit=nit)
    posterior = xr.Dataset({"Z": (("chain", "draw", "obs", "latent_dim"), np.full((1, 1, 2, 1), fun))})
    return xr.DataTree.from_dict({"posterior": posterior, "optimizer_result": result})


@pytest.mark.parametrize(
    ("funs", "expected"),
    [
        ([-10.0, -10.0], ("restart made no progress", True, 1, -10.0)),
        ([-10.0, -11.0, -12.0, -13.0, -14.0], ("stalled", False, 3, -13.0)),
    ],
)
def test_stalled_fits_restart_until_no_progress(monkeypatch, funs, expected):
    """A stall short of the optimum restarts from the end point; no gain means converged."""
    from gplvm.config import MapConfig
    from gplvm.inference import map as inference

    calls = iter(funs)
    starts = []

    def fake_find_map(model, start, cfg, seed, compiled):
        starts.append(float(np.ravel(start["Z"])[0]))
        return _canned(next(calls), "ABNORMAL: ", 5), 0.5, 1.0, set()

    monkeypatch.setattr(inference, "_find_map", fake_find_map)
    fit = inference.fit_map(None, {"Z": np.zeros((2, 1))}, MapConfig(), 0)
    verdict, converged, restarts, fun = expected
    assert (fit.info["convergence"], fit.info["converged"], fit.info["restarts"]) == (
        verdict,
        converged,
        restarts,
    )
    assert float(fit.idata["optimizer_result"]["fun"]) == fun  # the best point is kept
    assert starts[1:] == funs[: len(starts) - 1]  # each restart starts where the last one ended
    assert fit.info["iterations"] == 5 * len(starts)


def test_a_restart_that_takes_no_step_leaves_the_fit_stalled(monkeypatch):
    """A restart whose first line search fails (nit = 0) proves nothing: not converged, point kept."""
    from gplvm.config import MapConfig
    from gplvm.inference import map as inference

    runs = iter([_canned(-10.0, "ABNORMAL: ", 5), _canned(-10.0, "ABNORMAL: ", 0)])
    monkeypatch.setattr(inference, "_find_map", lambda *args: (next(runs), 0.5, 1.0, set()))
    fit = inference.fit_map(None, {"Z": np.zeros((2, 1))}, MapConfig(), 0)
    assert (fit.info["convergence"], fit.info["converged"], fit.info["restarts"]) == ("stalled", False, 1)
    assert float(fit.idata["optimizer_result"]["fun"]) == -10.0


def test_a_line_search_ending_on_a_non_finite_value_records_the_objective_at_x(monkeypatch):
    """SciPy reports the failed trial's NaN with the last good x; the fit records f(x) instead."""
    from scipy.optimize import OptimizeResult

    from gplvm.config import MapConfig
    from gplvm.inference import map as inference

    class Quadratic:
        def __init__(self, model, backend):
            pass

        def flatten(self, point):
            return np.ravel(point["Z"]).astype(float)

        def point(self, x):
            return {"Z": x.reshape(2, 1)}

        def __call__(self, x):
            return float(np.sum((x - 1.0) ** 2)), 2.0 * (x - 1.0)

    def failed_search(fun, x0, **kwargs):
        x = np.array([0.5, 0.5])
        return OptimizeResult(
            x=x,
            fun=np.nan,
            jac=np.full(2, np.nan),
            nit=3,
            nfev=9,
            njev=9,
            message="ABNORMAL: ",
            success=False,
            status=2,
            hess_inv=None,
        )

    monkeypatch.setattr(inference, "_Objective", Quadratic)
    monkeypatch.setattr(inference, "minimize", failed_search, raising=False)
    monkeypatch.setattr("scipy.optimize.minimize", failed_search)
    monkeypatch.setattr(inference, "_tree", lambda model, point, result, maxcor: result)
    tree, *_ = inference._find_map(None, {"Z": np.zeros((2, 1))}, MapConfig(progress_seconds=0), 0, {})
    assert tree.fun == 0.5 and np.allclose(tree.jac, [-1.0, -1.0])


def test_history_length_fits_the_memory_budget():
    from gplvm.config import MapConfig
    from gplvm.inference.map import history_length

    assert history_length(MapConfig(), 80) == 30  # small problems keep maxcor
    assert history_length(MapConfig(), 2_000_000) == 8  # 10^6 x 2 latents: 256 MiB / (16 B x 2e6)
    assert history_length(MapConfig(history_mb=0.001), 2_000_000) == 3  # never below 3 pairs


def test_map_with_a_small_history_still_reaches_the_analytic_optimum():
    from gplvm.run.pipeline import fit_experiment
    from tests.helpers import tiny_config

    # 40 x 2 latents: 0.005 MiB holds 4 pairs of 80 values.
    exp = fit_experiment(tiny_config("inference.history_mb=0.005", "model.beta=4", "plot=false"))
    m = exp.metrics
    assert m["lbfgs_maxcor"] == 4 and m["converged"]
    assert m["gram_rel_error"] < 1e-6 and abs(m["analytic_gap_relative"]) < 1e-12


def test_the_tolerance_stops_l_bfgs_b_once_the_gain_over_the_window_is_small():
    """On a Rosenbrock valley the optimiser stops at the first iteration whose objective is within
    tol x |f| of the one ``window`` iterations back (recomputed here from every iterate), and the
    fit then reports that verdict; tol = 0 never stops it."""
    from scipy.optimize import rosen, rosen_der

    from gplvm.inference.progress import Progress

    seen: list[float] = []
    progress = Progress(objective=None, every=0, tol=1e-3, window=5)

    def callback(intermediate_result):
        seen.append(float(intermediate_result.fun))
        progress(intermediate_result)

    start = np.full(6, -1.2)
    result = minimize(rosen, start, jac=rosen_der, method="L-BFGS-B", callback=callback)
    assert "StopIteration" in result.message
    stop = len(seen) - 1
    gains = [seen[k - 5] - seen[k] for k in range(5, len(seen))]
    first = next(k for k in range(5, len(seen)) if seen[k - 5] - seen[k] <= 1e-3 * max(1.0, abs(seen[k])))
    assert stop == first and min(gains[:-1]) > 0
    never = Progress(objective=None, every=0, tol=0.0, window=5)
    assert minimize(rosen, start, jac=rosen_der, method="L-BFGS-B", callback=never).success


def test_a_dense_rbf_map_starts_from_a_sparse_map_when_it_pays():
    """init=auto on an rbf dense likelihood with N > 2 M: the sparse MAP's latents and
    hyperparameters start the dense fit, whose optimum is at least as good as the one from PCA;
    the linear kernel, or few rows, start from PCA; init=sparse on a sparse model is refused."""
    from gplvm.config import load_config
    from gplvm.errors import ConfigError
    from gplvm.run.pipeline import fit_experiment

    data = ["dataset=synthetic", "dataset.n_obs=60", "dataset.n_features=6", "inference.progress_seconds=0"]
    auto = fit_experiment(load_config(*data, "model=rbf", "model.num_inducing=8"))
    assert auto.fit.info["init"] == "sparse" and auto.fit.info["sparse_start"]["iterations"] > 0
    pca = fit_experiment(load_config(*data, "model=rbf", "inference.init=pca"))
    auto_f, pca_f = (float(e.fit.idata["optimizer_result"]["fun"]) for e in (auto, pca))
    assert auto_f <= pca_f + 1e-6 * abs(pca_f), (auto_f, pca_f)
    assert fit_experiment(load_config(*data, "model=linear")).fit.info["init"] == "pca"
    assert fit_experiment(load_config(*data, "model=rbf", "model.num_inducing=30")).fit.info["init"] == "pca"
    with pytest.raises(ConfigError, match=r"inference\.init=sparse starts a dense fit"):
        fit_experiment(load_config(*data, "model=rbf", "model.likelihood=sparse", "inference.init=sparse"))
