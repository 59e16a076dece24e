"""A fit's predictive distribution at new latent points, as factors that NumPy and PyTensor share.

Every form predicts a row of Y at a new latent point z* the same way. With X the points the fit
conditions on (the training latents, the inducing inputs, or the latent axes for the linear
kernel's woodbury form) and k* = k(z*, X), column d has mean k* W[:, d], and f has variance

    k(z*, z*) - ||k* F_minus||^2 + ||k* F_plus||^2,

the first two terms left out when the form has no ``minus`` factor; a row of Y adds the noise. The
dense form has F_minus = L^-T (L L^T = K); the sparse form also F_plus, which puts back what the
optimal q(u) leaves uncertain. Projection differentiates the same expression in PyTensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytensor.tensor as pt

from gplvm.model.kernels import Hyper, Kernel


@dataclass(frozen=True)
class PredictiveFactors:
    """The predictive distribution of some columns of Y (all of them when ``columns`` is None).

    Attributes
    ----------
    points : ndarray, shape (P, Q)
        X, the points whose kernel values k(z*, X) the prediction is linear in.
    weights : ndarray, shape (P, D_g)
        W: the mean of column d at z* is k(z*, X) W[:, d].
    minus, plus : ndarray of shape (P, r) or None
        F_minus and F_plus of the variance of f (module docstring).
    noise : float
        The noise variance a row of Y adds.
    columns : ndarray of int or None
        Which columns of Y these factors predict; None for all.
    """

    points: np.ndarray
    weights: np.ndarray
    minus: np.ndarray | None
    plus: np.ndarray | None
    noise: float
    columns: np.ndarray | None = None

    def predict(self, kernel: Kernel, Z_new: np.ndarray, hyper: Hyper) -> tuple[np.ndarray, np.ndarray]:
        """Mean (n, D_g) and variance of a row of Y (n,), noise included, in NumPy."""
        cross = kernel.cross_np(Z_new, self.points, hyper)
        return cross @ self.weights, self.f_variance(kernel, Z_new, hyper, cross) + self.noise

    def f_variance(
        self, kernel: Kernel, Z_new: np.ndarray, hyper: Hyper, cross: np.ndarray | None = None
    ) -> np.ndarray:
        """The variance of f at each row of ``Z_new`` (n,); ``cross`` is k(Z_new, X) if known."""
        cross = kernel.cross_np(Z_new, self.points, hyper) if cross is None else cross
        var_f = np.zeros(len(Z_new))
        if self.minus is not None:
            var_f = kernel.diag_np(Z_new, hyper) - np.sum((cross @ self.minus) ** 2, axis=1)
        if self.plus is not None:
            var_f = var_f + np.sum((cross @ self.plus) ** 2, axis=1)
        return np.maximum(var_f, 0.0)  # rounding can take it slightly below 0

    def inputs(self) -> list[np.ndarray]:
        """The arrays that :func:`predictive_graph` takes as inputs, in its order."""
        return [a for a in (self.points, self.weights, self.minus, self.plus) if a is not None] + [
            np.asarray(self.noise)
        ]

    def symbolic_inputs(self) -> list[pt.TensorVariable]:
        """PyTensor variables matching :meth:`inputs`, for a graph compiled once for many fits."""
        return [pt.tensor(shape=(None,) * np.ndim(a)) for a in self.inputs()]


def predictive_graph(
    factors: PredictiveFactors, kernel: Kernel, Z_new: pt.TensorLike, hyper: Hyper, inputs: list
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """Mean (n, D_g) and variance of a row of Y (n,) at ``Z_new`` as PyTensor graphs.

    ``inputs`` stand for ``factors.inputs()`` (from :meth:`PredictiveFactors.symbolic_inputs`, or the
    arrays themselves); ``factors`` gives only which of them exist.
    """
    values = iter(inputs)
    points, weights = next(values), next(values)
    minus = next(values) if factors.minus is not None else None
    plus = next(values) if factors.plus is not None else None
    noise = next(values)
    cross = kernel.cross(Z_new, points, hyper)
    var_f = pt.zeros(cross.shape[0])
    if minus is not None:
        var_f = kernel.diagonal(Z_new, hyper) - pt.sum((cross @ minus) ** 2, axis=1)
    if plus is not None:
        var_f = var_f + pt.sum((cross @ plus) ** 2, axis=1)
    # Floored like the NumPy version; the floor's gradient is 0 where rounding would bite.
    return cross @ weights, pt.maximum(var_f, 0.0) + noise


def predict_groups(
    groups: list[PredictiveFactors], kernel: Kernel, Z_new: np.ndarray, hyper: Hyper, n_features: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (n, D) and variance of every column: (n,) from one set of factors for all columns,
    else (n, D), each group's variance repeated over its columns."""
    if len(groups) == 1 and groups[0].columns is None:
        return groups[0].predict(kernel, Z_new, hyper)
    mean = np.empty((len(Z_new), n_features))
    var = np.empty_like(mean)
    for group in groups:
        mean[:, group.columns], var_part = group.predict(kernel, Z_new, hyper)
        var[:, group.columns] = var_part[:, None]
    return mean, var
