"""The GPLVM log marginal likelihood, eq. 1 with its constant: one class per way of computing it.

Given Z and the hyperparameters the D columns of Y are independent draws from N(0, K), so eq. 1
is a sum of per-column terms. Each form gives that sum as a PyTensor graph (what MAP and NUTS
differentiate) and the per-column terms in NumPy at given values (fitted points, posterior draws,
held-out columns):

- ``woodbury``: for the linear kernel only. With M = I_Q + beta Z^T Z it costs
  O(N Q^2 + N Q D) and never forms an N x N matrix, so it scales to N = 10^5 and beyond.
- ``dense``: a Cholesky factorisation of the N x N matrix K, O(N^3), for every kernel; the
  reference the woodbury form is tested against.

Gradients come from PyTensor's automatic differentiation; the tests compare them with eqs. 3-4.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky, solve_triangular
from scipy import linalg as sla

from gplvm.errors import ConfigError, NumericalError
from gplvm.kernels import Hyper, Kernel, Linear

LOG_2PI = float(np.log(2.0 * np.pi))


def describe(hyper: Mapping, jitter: float | None = None) -> str:
    """``beta=..., variance=..., ...`` for error messages."""
    parts = [f"{k}={np.array2string(np.asarray(v), precision=4)}" for k, v in hyper.items()]
    if jitter is not None:
        parts.append(f"jitter={jitter:g}")
    return ", ".join(parts)


def woodbury_log_likelihood(
    Z: pt.TensorLike, Y: pt.TensorLike, beta: pt.TensorLike, Y_sq_norm: pt.TensorLike | None = None
) -> pt.TensorVariable:
    """Eq. 1 with its constant for K = Z Z^T + beta^-1 I, via the Woodbury identity.

    With M = I_Q + beta Z^T Z = L L^T: ln|K| = -N ln beta + ln|M| and
    tr(K^-1 Y Y^T) = beta ||Y||_F^2 - beta^2 ||L^-1 Z^T Y||_F^2.

    Parameters
    ----------
    Z : tensor, shape (N, Q)
        Latent positions.
    Y : tensor, shape (N, D)
        Centred data.
    beta : scalar tensor
        Noise precision, > 0.
    Y_sq_norm : scalar tensor, optional
        ||Y||_F^2. Pass it when Y is a shared variable: PyTensor cannot fold sum(Y**2) into a
        constant then, and would recompute it, an O(N D) pass, at every evaluation.
    """
    Z, Y, beta = pt.as_tensor(Z), pt.as_tensor(Y), pt.as_tensor(beta)
    n_obs, n_features = Y.shape[0], Y.shape[1]
    M = pt.eye(Z.shape[1]) + beta * (Z.T @ Z)
    L = cholesky(M, lower=True)
    logdet_K = -n_obs * pt.log(beta) + 2.0 * pt.sum(pt.log(pt.diagonal(L)))
    A = solve_triangular(L, Z.T @ Y, lower=True)
    Y_sq_norm = pt.sum(Y**2) if Y_sq_norm is None else pt.as_tensor(Y_sq_norm)
    trace = beta * Y_sq_norm - beta**2 * pt.sum(A**2)
    return -0.5 * n_features * logdet_K - 0.5 * trace - 0.5 * n_obs * n_features * LOG_2PI


def dense_log_likelihood_from_K(K: pt.TensorLike, Y: pt.TensorLike) -> pt.TensorVariable:
    """Eq. 1 with its constant for a given covariance K (N x N), by its Cholesky factor.

    Exposed so that tests can take PyTensor's gradient with respect to K itself (eq. 3).
    """
    K, Y = pt.as_tensor(K), pt.as_tensor(Y)
    n_obs, n_features = Y.shape[0], Y.shape[1]
    L = cholesky(K, lower=True)
    logdet_K = 2.0 * pt.sum(pt.log(pt.diagonal(L)))
    A = solve_triangular(L, Y, lower=True)
    return -0.5 * n_features * logdet_K - 0.5 * pt.sum(A**2) - 0.5 * n_obs * n_features * LOG_2PI


class LikelihoodForm(ABC):
    """One way of evaluating eq. 1 for a given kernel."""

    name: ClassVar[str]
    max_obs: ClassVar[int | None] = None  # above this N the form would exhaust memory

    def __init__(self, kernel: Kernel) -> None:
        if not self.supports(kernel):
            raise ValueError(f"the {self.name} form does not support the {kernel.name} kernel")
        self.kernel = kernel

    @classmethod
    def supports(cls, kernel: Kernel) -> bool:
        """Whether this form can evaluate eq. 1 for ``kernel``."""
        return True

    @abstractmethod
    def log_likelihood(
        self, Z: pt.TensorLike, Y: pt.TensorLike, hyper: Hyper, Y_sq_norm: pt.TensorLike | None = None
    ) -> pt.TensorVariable:
        """Eq. 1 with its constant as a PyTensor graph (``Y_sq_norm``: see the woodbury form)."""

    @abstractmethod
    def column_log_likelihoods(
        self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper, where: str = "at the fitted point"
    ) -> np.ndarray:
        """log N(y_d | 0, K) for each column of Y, shape (D,), in NumPy.

        ``where`` names the point in the error raised when K cannot be factorised.
        """

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


class Woodbury(LikelihoodForm):
    """O(N Q^2 + N Q D) for the linear kernel: nothing N x N is formed."""

    name = "woodbury"

    @classmethod
    def supports(cls, kernel: Kernel) -> bool:
        return isinstance(kernel, Linear)

    def log_likelihood(self, Z, Y, hyper, Y_sq_norm=None):
        return woodbury_log_likelihood(Z, Y, hyper["beta"], Y_sq_norm)

    def column_log_likelihoods(self, Z, Y, hyper, where="at the fitted point"):
        beta = float(hyper["beta"])
        n_obs = Y.shape[0]
        L = np.linalg.cholesky(np.eye(Z.shape[1]) + beta * (Z.T @ Z))
        logdet = -n_obs * np.log(beta) + 2.0 * np.sum(np.log(np.diag(L)))
        A = sla.solve_triangular(L, Z.T @ Y, lower=True)
        quad = beta * np.einsum("nd,nd->d", Y, Y) - beta**2 * np.sum(A**2, axis=0)  # no N x D temporary
        return -0.5 * logdet - 0.5 * quad - 0.5 * n_obs * LOG_2PI


class Dense(LikelihoodForm):
    """O(N^3): the Cholesky factor of K. A K that cannot be factorised gives NaN, which NUTS rejects."""

    name = "dense"
    max_obs = 10_000

    def log_likelihood(self, Z, Y, hyper, Y_sq_norm=None):
        return dense_log_likelihood_from_K(self.kernel.K(Z, hyper), Y)

    def cholesky(self, Z: np.ndarray, hyper: Hyper, where: str) -> np.ndarray:
        """Lower Cholesky factor of K, or a NumericalError naming the values and a remedy."""
        K = self.kernel.K_np(Z, hyper)
        try:
            return np.linalg.cholesky(K)
        except np.linalg.LinAlgError:
            smallest = float(np.linalg.eigvalsh(K)[0]) if len(K) <= 5000 else float("nan")
            raise NumericalError(
                f"K is not positive definite {where} ({describe(hyper, self.kernel.jitter)};"
                f" smallest eigenvalue {smallest:.3g}): raise model.jitter (e.g. 1e-4) or lower model.beta"
            ) from None

    def column_log_likelihoods(self, Z, Y, hyper, where="at the fitted point"):
        L = self.cholesky(Z, hyper, where)
        A = sla.solve_triangular(L, Y, lower=True)
        logdet = 2.0 * np.sum(np.log(np.diag(L)))
        return -0.5 * logdet - 0.5 * np.sum(A**2, axis=0) - 0.5 * len(Y) * LOG_2PI

    def check_factorisable(self, Z, hyper, where):
        self.cholesky(Z, hyper, where)


FORMS: dict[str, type[LikelihoodForm]] = {f.name: f for f in (Woodbury, Dense)}


def make_form(name: str, kernel: Kernel) -> LikelihoodForm:
    """The likelihood form registered as ``name``, for ``kernel``."""
    try:
        return FORMS[name](kernel)
    except KeyError:
        raise ValueError(f"likelihood form {name!r} is unknown; choose one of {sorted(FORMS)}") from None
