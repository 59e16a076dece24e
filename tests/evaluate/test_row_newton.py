"""The row-batched damped Newton method against closed-form optima."""

from __future__ import annotations

import numpy as np

from gplvm.evaluate.row_newton import maximise_rows


def test_each_row_reaches_its_own_optimum_of_a_concave_quadratic():
    """f_i(x) = -(x - c_i)^T A_i (x - c_i) / 2 has its maximum at c_i; rows differ in A and c."""
    rng = np.random.default_rng(0)
    n, p = 7, 3
    B = rng.standard_normal((n, p, p))
    A = B @ B.transpose(0, 2, 1) + 0.1 * np.eye(p)
    c = rng.standard_normal((n, p))

    def value(x, rows):
        d = x - c[rows]
        return -0.5 * np.einsum("np,npq,nq->n", d, A[rows], d)

    def value_grad_hess(x, rows):
        d = x - c[rows]
        return value(x, rows), -np.einsum("npq,nq->np", A[rows], d), -A[rows]

    opt = maximise_rows(value_grad_hess, value, np.zeros((n, p)))
    np.testing.assert_allclose(opt.x, c, atol=1e-8)
    assert opt.converged.all()


def test_a_row_starting_at_a_saddle_or_a_minimum_climbs_out():
    """f(x) = -(x^2 - 1)^2 in 1-D has maxima at +-1, a minimum at 0; Rosenbrock's maximum is (1, 1).
    Started at the minimum (gradient 0 but curvature up) the row must not stop there."""

    def value(x, rows):
        out = np.empty(len(rows))
        quartic = rows == 0
        out[quartic] = -((x[quartic, 0] ** 2 - 1) ** 2)
        r = x[~quartic]
        out[~quartic] = -((1 - r[:, 0]) ** 2 + 100 * (r[:, 1] - r[:, 0] ** 2) ** 2)
        return out

    def value_grad_hess(x, rows):
        h = 1e-5
        f = value(x, rows)
        grad = np.stack([(value(x + h * e, rows) - value(x - h * e, rows)) / (2 * h) for e in np.eye(2)], 1)
        hess = np.stack(
            [
                np.stack(
                    [
                        (
                            value(x + h * (a + b), rows)
                            - value(x + h * (a - b), rows)
                            - value(x - h * (a - b), rows)
                            + value(x - h * (a + b), rows)
                        )
                        / (4 * h * h)
                        for b in np.eye(2)
                    ],
                    1,
                )
                for a in np.eye(2)
            ],
            1,
        )
        return f, grad, hess

    x0 = np.array([[1e-9, 0.0], [-1.2, 1.0]])
    opt = maximise_rows(value_grad_hess, value, x0, maxiter=500, tol=1e-14)
    assert abs(abs(opt.x[0, 0]) - 1) < 1e-4
    np.testing.assert_allclose(opt.x[1], [1.0, 1.0], atol=1e-4)
