"""Many small independent maximisations at once: a damped Newton method, vectorised over rows.

Projecting new rows is one small problem per row (Q or 2Q parameters) that shares nothing with
the others but the fit. Each iteration evaluates every active row's value, gradient and Hessian
in one batched call, takes for each row the step -(|H| + lambda I)^-1 g with |H| the Hessian's
eigenvalues made positive (a saddle-free Newton step, which also climbs out of saddles and
minima), and keeps it only where it raised that row's objective; lambda shrinks after a kept
step and grows after a refused one (Levenberg-Marquardt). A row stops when the gain its next
step predicts is below ``tol`` relative to its objective and its Hessian is negative definite;
where the gradient vanishes at a minimum or a saddle, it steps along the direction of upward
curvature instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# (x of the rows, which rows) -> value (n,), gradient (n, P) and Hessian (n, P, P)
ValueGradHess = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
Value = Callable[[np.ndarray, np.ndarray], np.ndarray]

START_DAMPING = 1e-6  # lambda, relative to the largest |eigenvalue| of the row's Hessian
MAX_DAMPING = 1e10  # a row whose steps are all refused up to this damping has stalled
ESCAPE_STEP = 1e-2  # first step out of a flat non-maximum, relative to max(1, |x|); shrinks when refused


@dataclass
class RowOptima:
    """Each row's optimum ``x`` (n, P), its value (n,), Hessian (n, P, P) and whether it converged."""

    x: np.ndarray
    value: np.ndarray
    hessian: np.ndarray
    converged: np.ndarray
    iterations: int


def maximise_rows(
    value_grad_hess: ValueGradHess, value: Value, x0: np.ndarray, maxiter: int = 200, tol: float = 1e-12
) -> RowOptima:
    """Maximise every row's objective from ``x0`` (n, P); see the module docstring.

    ``value_grad_hess(x, rows)`` and ``value(x, rows)`` evaluate the rows ``rows`` (indices into
    x0) at ``x`` (len(rows), P).
    """
    x = np.array(x0, dtype=float)
    every = np.arange(len(x))
    f, g, H = value_grad_hess(x, every)
    damping = np.full(len(x), START_DAMPING)
    converged = np.zeros(len(x), dtype=bool)
    active = np.isfinite(f)  # a row that starts at a non-finite value cannot be improved
    iterations = 0
    while iterations < maxiter and active.any():
        iterations += 1
        rows = np.flatnonzero(active)
        eigenvalues, vectors = np.linalg.eigh(H[rows])
        size = np.maximum(np.abs(eigenvalues).max(axis=1, keepdims=True), 1e-12)
        scale = np.abs(eigenvalues) + damping[rows, None] * size
        along = np.einsum("npk,np->nk", vectors, g[rows]) / scale
        step = np.einsum("npk,nk->np", vectors, along)
        predicted = 0.5 * np.einsum("np,np->n", step, g[rows])
        flat = predicted <= tol * np.maximum(1.0, np.abs(f[rows]))
        # Flat and concave is a maximum; flat with a direction of upward curvature (a minimum or
        # a saddle, where the gradient vanishes too) is left along that direction.
        concave = eigenvalues[:, -1] < 0
        done = flat & concave
        escape = flat & ~concave
        if escape.any():
            up = vectors[escape, :, -1]
            sign = np.where(np.einsum("np,np->n", up, g[rows][escape]) >= 0, 1.0, -1.0)
            size = np.maximum(1.0, np.linalg.norm(x[rows][escape], axis=1))
            length = ESCAPE_STEP * size * np.minimum(1.0, START_DAMPING / damping[rows][escape])
            step[escape] = (sign * length)[:, None] * up
        converged[rows[done]] = True
        active[rows[done]] = False
        rows, step = rows[~done], step[~done]
        if len(rows) == 0:
            break
        trial = x[rows] + step
        f_trial = value(trial, rows)
        better = np.isfinite(f_trial) & (f_trial > f[rows])
        kept = rows[better]
        if len(kept):
            x[kept] = trial[better]
            f[kept], g[kept], H[kept] = value_grad_hess(x[kept], kept)
        damping[kept] = np.maximum(damping[kept] / 10.0, 1e-12)
        refused = rows[~better]
        damping[refused] *= 10.0
        active[refused[damping[refused] > MAX_DAMPING]] = False
    return RowOptima(x, f, H, converged, iterations)
