"""When a stalled L-BFGS-B line search counts as converged."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.optimize import minimize

from gplvm.inference import STALL_RTOL, _stalled_at_optimum


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
