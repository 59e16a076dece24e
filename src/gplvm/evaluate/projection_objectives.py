"""The objective of each new row under a fit, with its exact gradient, compiled once.

Two objectives, both sums of independent per-row terms, so that the gradient of their total gives
every row's gradient at once:

- :class:`PointObjective`: log p(y* | z*, fit) + log p(z*), the GP predictive density of the new
  row's observed cells at z* (:mod:`gplvm.model.predictive`) plus the prior, over z* (Q per row);
- :class:`VariationalObjective`: the Bayesian GPLVM's bound for a new row, over its own
  q(z*) = N(mu*, diag s*) (2Q per row, s* through its log), with the training q(Z), inducing
  inputs, hyperparameters and the optimal q(u) that they give held fixed (GPy's ``infer_newX``).
  Per column d with mean weights w_d, and expectations psi under q(z*):

      E[log N(y_d | f_d(z*), noise)] = -1/2 log(2 pi noise)
          - (y_d^2 - 2 y_d psi1 w_d + tr(psi2 (w_d w_d^T + F_plus F_plus^T - F_minus F_minus^T))
             + psi0) / (2 noise),

  summed over the row's observed columns, minus KL(q(z*) || N(0, s^2 I)). With s* -> 0 it is
  the point objective with the predictive variance moved out of the log into a penalty.

Each class compiles one PyTensor function (python backend) per structure of the fit (its column
groups), then takes a fit's values as inputs: the draws of a NUTS run reuse one compile.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt

from gplvm.inference.python_mode import python_mode
from gplvm.model.constants import LOG_2PI
from gplvm.model.expectations import expectations_of
from gplvm.model.kernels import Hyper, Kernel
from gplvm.model.predictive import PredictiveFactors, predictive_graph

FD_STEP = 1e-6  # difference step of the Hessian, in the parameters' units (latents, log s)
EVAL_ROWS = 1024  # rows per call: memory O(EVAL_ROWS M^2) for the variational objective


def _hyper_inputs(hyper: Hyper) -> dict[str, pt.TensorVariable]:
    return {name: pt.tensor(name=name, shape=(None,) * np.ndim(value)) for name, value in hyper.items()}


def _log_prior(z: pt.TensorVariable, prior_scale: float) -> pt.TensorVariable:
    latent_dim = z.shape[1]
    return -0.5 * pt.sum(z**2, axis=1) / prior_scale**2 - latent_dim * (np.log(prior_scale) + 0.5 * LOG_2PI)


def _compile(inputs: list, value: pt.TensorVariable, params: pt.TensorVariable) -> tuple:
    """(value function, value-and-gradient function) of a per-row ``value`` (n,) over ``params``.

    No rewrites: these graphs are small per row and run on few rows, where PyTensor's rewriting
    (seconds for the psi statistics' gradient) costs far more than it saves.
    """
    grad = pt.grad(pt.sum(value), params)
    mode = python_mode()
    with pytensor.config.change_flags(cxx=""):  # the python backend needs no C compiler
        return (
            pytensor.function(inputs, value, mode=mode, on_unused_input="ignore"),
            pytensor.function(inputs, [value, grad], mode=mode, on_unused_input="ignore"),
        )


class _RowObjective:
    """Shared plumbing: a compiled objective over rows, fed the rows' data and a fit's values.

    The Hessian of each row comes from differences of its exact gradient, every shifted point of
    every row evaluated in one batch: building PyTensor's Hessian graph took seconds at Q = 10.
    """

    def __init__(self, fns) -> None:
        self._value, self._value_grad = fns
        self._fit: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []

    def bind(self, rows: list[np.ndarray], fit: list[np.ndarray]) -> None:
        """Set the rows' data (each array indexed by row) and the fit's values."""
        self._rows, self._fit = rows, fit

    def _batches(self, fn, x: np.ndarray, rows: np.ndarray) -> list:
        return [
            fn(x[s : s + EVAL_ROWS], *(a[rows[s : s + EVAL_ROWS]] for a in self._rows), *self._fit)
            for s in range(0, len(x), EVAL_ROWS)
        ]

    def value(self, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each row's objective at ``x`` (len(rows), P)."""
        return np.concatenate(self._batches(self._value, x, rows))

    def value_grad_hess(self, x: np.ndarray, rows: np.ndarray):
        """Each row's objective (n,), gradient (n, P) and Hessian (n, P, P) at ``x``.

        The Hessian is forward differences of the exact gradient (P + 1 gradients a row),
        symmetrised: accurate to about ``FD_STEP`` relative, which Newton's steps and the Laplace
        sd need no better.
        """
        n, n_params = x.shape
        shifts = np.concatenate([np.zeros((1, n_params)), FD_STEP * np.eye(n_params)])
        points = (shifts[:, None, :] + x[None]).reshape(-1, n_params)
        parts = self._batches(self._value_grad, points, np.tile(rows, len(shifts)))
        value = np.concatenate([p[0] for p in parts])[:n]
        grad = np.concatenate([p[1] for p in parts]).reshape(len(shifts), n, n_params)
        hessian = (grad[1:] - grad[0]).transpose(1, 2, 0) / FD_STEP
        return value, grad[0], 0.5 * (hessian + hessian.transpose(0, 2, 1))


def _cells(n_features: int):
    """Symbolic new rows: Y with missing cells at 0 and the 0/1 mask of observed cells."""
    return pt.matrix("Y0", shape=(None, n_features)), pt.matrix("observed", shape=(None, n_features))


def rows_data(Y_new: np.ndarray) -> list[np.ndarray]:
    """The new rows as the compiled objectives take them: (Y with NaN at 0, 0/1 mask)."""
    observed = ~np.isnan(Y_new)
    return [np.where(observed, Y_new, 0.0), observed.astype(float)]


class PointObjective(_RowObjective):
    """log p(y* | z*, fit) + log p(z*) per row over z* (see the module docstring)."""

    def __init__(
        self,
        kernel: Kernel,
        groups: list[PredictiveFactors],
        hyper: Hyper,
        prior_scale: float,
        n_features: int,
    ) -> None:
        z = pt.matrix("z")
        Y0, observed = _cells(n_features)
        hyper_in = _hyper_inputs(hyper)
        factor_inputs = [g.symbolic_inputs() for g in groups]
        terms = [_log_prior(z, prior_scale)]
        for group, inputs in zip(groups, factor_inputs, strict=True):
            mean, var = predictive_graph(group, kernel, z, hyper_in, inputs)
            cols = slice(None) if group.columns is None else group.columns
            mask, residual = observed[:, cols], Y0[:, cols] - mean
            log_density = -0.5 * pt.sum(mask, axis=1) * (LOG_2PI + pt.log(var))
            terms.append(log_density - 0.5 * pt.sum(mask * residual**2, axis=1) / var)
        value = pt.add(*terms)
        inputs = [z, Y0, observed, *hyper_in.values(), *(x for xs in factor_inputs for x in xs)]
        super().__init__(_compile(inputs, value, z))
        self.hyper_names = list(hyper_in)

    def use(self, Y_new: np.ndarray, hyper: Hyper, groups: list[PredictiveFactors]) -> None:
        """Evaluate the rows of ``Y_new`` (fitted units, NaN where missing) under this fit."""
        fit = [np.asarray(hyper[n], dtype=float) for n in self.hyper_names]
        self.bind(rows_data(Y_new), fit + [a for g in groups for a in g.inputs()])


class VariationalObjective(_RowObjective):
    """The Bayesian GPLVM's bound for each new row over x = (mu*, log s*) (module docstring)."""

    def __init__(
        self, kernel: Kernel, hyper: Hyper, prior_scale: float, n_features: int, latent_dim: int
    ) -> None:
        x = pt.matrix("x")
        mean, variance = x[:, :latent_dim], pt.exp(x[:, latent_dim:])
        Y0, observed = _cells(n_features)
        C = pt.tensor3("C")  # each row's matrix that Psi2 is traced against
        hyper_in = _hyper_inputs(hyper)
        weights, noise = pt.matrix("weights"), pt.scalar("noise")
        psi0, Psi1, Psi2 = expectations_of(kernel).psi_statistics_by_row(
            mean, variance, hyper_in["inducing"], hyper_in
        )
        n_cells = pt.sum(observed, axis=1)
        squares = (
            pt.sum(observed * Y0**2, axis=1)
            - 2.0 * pt.sum(observed * Y0 * (Psi1 @ weights), axis=1)
            + pt.sum(Psi2 * C, axis=(1, 2))
            + n_cells * psi0
        )
        ratio = variance / prior_scale**2
        kl = 0.5 * pt.sum(ratio + mean**2 / prior_scale**2 - 1.0 - pt.log(ratio), axis=1)
        value = -0.5 * n_cells * (LOG_2PI + pt.log(noise)) - 0.5 * squares / noise - kl
        inputs = [x, Y0, observed, C, *hyper_in.values(), weights, noise]
        super().__init__(_compile(inputs, value, x))
        self.hyper_names = list(hyper_in)

    def use(self, Y_new: np.ndarray, hyper: Hyper, groups: list[PredictiveFactors], n_features: int) -> None:
        """Evaluate the rows of ``Y_new`` under the fit whose optimal q(u) ``groups`` describe."""
        cells, observed = rows_data(Y_new)
        n_inducing = groups[0].points.shape[0]
        weights = np.empty((n_inducing, n_features))
        C = np.zeros((len(Y_new), n_inducing, n_inducing))
        for group in groups:
            cols = np.arange(n_features) if group.columns is None else group.columns
            weights[:, cols] = group.weights
            # sum over the row's observed columns of w_d w_d^T, then the variance terms per column
            outer = np.einsum("md,kd->dmk", group.weights, group.weights).reshape(len(cols), -1)
            C += (observed[:, cols] @ outer).reshape(C.shape)
            spread = group.plus @ group.plus.T - group.minus @ group.minus.T
            C += observed[:, cols].sum(axis=1)[:, None, None] * spread
        fit = [np.asarray(hyper[n], dtype=float) for n in self.hyper_names]
        self.bind([cells, observed, C], [*fit, weights, np.asarray(groups[0].noise)])
