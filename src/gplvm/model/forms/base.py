"""The likelihood-form interface: one way of evaluating eq. 1 (the GPLVM log marginal likelihood
with its constant) for a given kernel.

Given Z and the hyperparameters the D columns of Y are independent draws from N(0, K), so eq. 1
is a sum of per-column terms. Each form gives that sum as a PyTensor graph (what MAP and NUTS
differentiate) and the per-column terms in NumPy at given values (fitted points, posterior draws,
held-out columns), plus predictions at new latent points.

Missing cells (NaN in Y) are left out column by column: each column contributes the density of
its observed rows (see :mod:`gplvm.data.missing`).

A concrete subclass (one with a ``name``) registers itself in :data:`FORMS` when its module is
imported; :mod:`gplvm.model.forms` imports every module of its folder.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt
from scipy import linalg as sla

from gplvm.data.missing import by_column_groups, column_groups, has_missing
from gplvm.errors import ConfigError
from gplvm.model.kernels import Hyper, Kernel
from gplvm.model.predictive import PredictiveFactors, predict_groups

FORMS: dict[str, type[LikelihoodForm]] = {}


def describe(hyper: Mapping, jitter: float | None = None) -> str:
    """``beta=..., variance=..., ...`` for error messages."""
    parts = [f"{k}={np.array2string(np.asarray(v), precision=4)}" for k, v in hyper.items()]
    if jitter is not None:
        parts.append(f"jitter={jitter:g}")
    return ", ".join(parts)


class LikelihoodForm(ABC):
    """One way of evaluating eq. 1 for a given kernel."""

    name: ClassVar[str]
    max_obs: ClassVar[int | None] = None  # above this N the form would exhaust memory
    # Variational parameters the form adds to the model, by name with their dims; the graph reads
    # them from ``hyper`` like hyperparameters.
    parameter_dims: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            FORMS[cls.name] = cls

    def __init__(self, kernel: Kernel) -> None:
        if not self.supports(kernel):
            raise ValueError(f"the {self.name} form does not support the {kernel.name} kernel")
        self.kernel = kernel

    @classmethod
    def from_config(cls, kernel: Kernel, cfg) -> LikelihoodForm:
        """The form for ``kernel`` with the settings of a ModelConfig ``cfg``."""
        return cls(kernel)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the form's variational parameters."""
        return tuple(self.parameter_dims)

    def coords(self, n_obs: int) -> dict[str, np.ndarray]:
        """Coordinates of the dims of the form's parameters."""
        return {}

    def initial_parameters(self, Z: np.ndarray, seed: int) -> dict[str, np.ndarray]:
        """Starting values of the form's parameters, given the starting latents ``Z``."""
        return {}

    def inducing_count(self, n_obs: int) -> int | None:
        """M for forms with inducing inputs, else None."""
        return None

    def predictive_variance(self, Z_new: np.ndarray, Z: np.ndarray, hyper: Hyper) -> np.ndarray:
        """Variance of f at ``Z_new`` given the fit at the training latents Z (see the kernel's)."""
        return self.kernel.predictive_variance(Z_new, Z, hyper)

    def predict(
        self, Z_new: np.ndarray, Z: np.ndarray, Y: np.ndarray, hyper: Hyper, chunk: int = 2048
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean (n*, D) and variance (n*,) of a row of Y at each latent point of ``Z_new``.

        Every column of Y is a GP over the latents with covariance K, so a row at z* has mean
        k(z*, Z) K^-1 Y and, in every column alike, variance k(z*, z*) - k(z*, Z) K^-1 k(Z, z*)
        plus the noise. Rows go ``chunk`` at a time.
        """
        predict = self.predictor(Z, Y, hyper)
        parts = [predict(Z_new[s : s + chunk]) for s in range(0, len(Z_new), chunk)]
        return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def predictor(self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper):
        """A function Z_new -> (mean, variance) as in :meth:`predict`, the fit's factors computed once.

        When Y has missing cells each column is predicted from its observed rows, so the
        variance differs by column: shape (n*, D) instead of (n*,).
        """
        groups = self.predictive_factors(Z, Y, hyper)
        hyper = {k: np.asarray(v, dtype=float) for k, v in hyper.items()}
        return lambda Z_new: predict_groups(groups, self.kernel, Z_new, hyper, Y.shape[1])

    def predictive_factors(self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper) -> list[PredictiveFactors]:
        """The fit's predictive factors (:mod:`gplvm.model.predictive`): one set for a complete Y,
        else one per group of columns that miss the same rows, each from its observed rows."""
        if not has_missing(Y):
            return [self.complete_factors(Z, Y, hyper)]
        return [
            replace(self.complete_factors(Z[g.rows], Y[np.ix_(g.rows, g.cols)], hyper), columns=g.cols)
            for g in column_groups(~np.isnan(Y))
        ]

    def complete_factors(self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper) -> PredictiveFactors:
        """:meth:`predictive_factors` for a Y without missing cells.

        This dense version factorises K once (O(N^3)): X = Z, W = K^-1 Y and F_minus = L^-T.
        """
        L = np.linalg.cholesky(self.kernel.K_np(Z, hyper))
        L_inv = sla.solve_triangular(L, np.eye(len(L)), lower=True)
        noise = float(self.kernel.noise_variance(hyper))
        return PredictiveFactors(Z, sla.cho_solve((L, True), Y), L_inv.T, None, noise)

    @classmethod
    def supports(cls, kernel: Kernel) -> bool:
        """Whether this form can evaluate eq. 1 for ``kernel``."""
        return True

    @abstractmethod
    def log_likelihood(
        self, Z: pt.TensorLike, Y: pt.TensorLike, hyper: Hyper, Y_sq_norm: pt.TensorLike | None = None
    ) -> pt.TensorVariable:
        """Eq. 1 with its constant as a PyTensor graph (``Y_sq_norm``: see the woodbury form)."""

    def missing_log_likelihood(
        self, Z: pt.TensorLike, Y: pt.TensorLike, hyper: Hyper, observed: np.ndarray
    ) -> pt.TensorVariable:
        """Eq. 1 of the observed cells only (``observed``: bool, N x D) as a PyTensor graph.

        This version sums :meth:`log_likelihood` over the groups of columns that are observed in
        the same rows: one factorisation per group.
        """
        Z, Y = pt.as_tensor(Z), pt.as_tensor(Y)
        groups = column_groups(observed)
        return pt.add(*[self.log_likelihood(Z[g.rows], Y[g.rows][:, g.cols], hyper) for g in groups], 0.0)

    def column_log_likelihoods(
        self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper, where: str = "at the fitted point"
    ) -> np.ndarray:
        """log N(y_d | 0, K) for each column of Y, shape (D,), in NumPy.

        A column with missing cells (NaN) gets the density of its observed rows. ``where`` names
        the point in the error raised when K cannot be factorised.
        """
        if not has_missing(Y):
            return self.complete_column_log_likelihoods(Z, Y, hyper, where)
        return by_column_groups(
            Y, lambda rows, Y_part: self.complete_column_log_likelihoods(Z[rows], Y_part, hyper, where)
        )

    @abstractmethod
    def complete_column_log_likelihoods(
        self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper, where: str = "at the fitted point"
    ) -> np.ndarray:
        """:meth:`column_log_likelihoods` for a Y without missing cells."""

    def log_likelihood_np(
        self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper, where: str = "at the fitted point"
    ) -> float:
        """Eq. 1 with its constant in NumPy: the sum of :meth:`column_log_likelihoods`."""
        return float(np.sum(self.column_log_likelihoods(Z, Y, hyper, where)))

    def check_size(self, n_obs: int) -> None:
        """Refuse, with one line, a data size this form cannot hold in memory."""
        if self.max_obs is not None and n_obs > self.max_obs:
            gib = 8 * n_obs**2 / 2**30
            raise ConfigError(
                f"model.likelihood={self.name} with N={n_obs} needs N x N matrices of {gib:.1f} GiB each;"
                f" use model.likelihood=woodbury ({self.name} allows N <= {self.max_obs})"
            )

    def check_factorisable(self, Z: np.ndarray, hyper: Hyper, where: str) -> None:  # noqa: B027
        """Raise a NumericalError naming the values when eq. 1 cannot be evaluated at (Z, hyper).

        Forms that cannot fail there (woodbury: M is positive definite for any beta > 0) keep this no-op.
        """


def make_form(name: str, kernel: Kernel, cfg=None) -> LikelihoodForm:
    """The likelihood form registered as ``name``, for ``kernel`` (settings from a ModelConfig ``cfg``)."""
    try:
        form = FORMS[name]
    except KeyError:
        raise ValueError(f"likelihood form {name!r} is unknown; choose one of {sorted(FORMS)}") from None
    return form(kernel) if cfg is None else form.from_config(kernel, cfg)
