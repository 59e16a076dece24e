"""What every structured latent prior provides (the iid Normal default needs none of it).

A structured prior has one scalar hyperparameter theta (the GP's length scale, the informative
prior's spread), fixed or learned with its own prior, and gives Z's log density in PyTensor and
NumPy, a non-centred form for NUTS, and q(Z) with its KL for the Bayesian GPLVM.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pytensor.tensor as pt

from gplvm.config import PriorConfig
from gplvm.errors import DataError

WHITENED = "Z_whitened"  # V in the non-centred form Z = f(V), V ~ Normal(0, 1) (NUTS)


@dataclass(frozen=True)
class QMoments:
    """q(Z) at the variational optimum: means and marginal variances (N, Q), and for a prior whose
    q couples rows, each latent dim's full N x N covariance."""

    mean: np.ndarray
    variance: np.ndarray
    covariances: list[np.ndarray] | None = None

    def log_density(self, Z: np.ndarray) -> np.ndarray:
        """log q(Z) of draws ``Z`` (..., N, Q), summed over rows and dims: shape (...)."""
        Z = np.asarray(Z, dtype=float)
        if self.covariances is None:  # draw by draw: no temporaries the size of the stack
            log_norm = np.sum(np.log(2.0 * np.pi * self.variance))
            out = np.zeros(Z.shape[:-2])
            for index in np.ndindex(out.shape):
                out[index] = -0.5 * (np.sum((Z[index] - self.mean) ** 2 / self.variance) + log_norm)
            return out
        residual = Z - self.mean
        out = 0.0
        for q, S in enumerate(self.covariances):  # each latent dim a full N x N Gaussian
            L = np.linalg.cholesky(S)
            white = np.linalg.solve(L, np.moveaxis(residual[..., q], -1, 0).reshape(len(S), -1))
            quadratic = np.sum(white**2, axis=0).reshape(residual.shape[:-2])
            out = out - 0.5 * quadratic - np.sum(np.log(np.diag(L))) - 0.5 * len(S) * np.log(2.0 * np.pi)
        return out


class StructuredPrior(ABC):
    """A prior over Z's rows other than the iid Normal.

    Attributes
    ----------
    name : str
        The ``latent_prior`` config name.
    parameter : str
        theta's name in the model, the posterior and each draw's values.
    start : float
        theta's fixed value, or its start when learned.
    learn : bool
        Whether theta is a free parameter with :attr:`parameter_prior`.
    parameter_prior : PriorConfig
        theta's prior.
    q_parameters : dict
        q(Z)'s free parameters for the Bayesian GPLVM, name -> "real" or "positive".
    q_family : str
        q(Z)'s form, for the run's ``variational`` group.
    noncentred_ok : bool
        Whether NUTS samples the non-centred form (else Z itself, with the log density).
    """

    name: str
    parameter: str
    start: float
    learn: bool
    parameter_prior: PriorConfig
    q_parameters: dict[str, str]
    q_family: str
    noncentred_ok: bool = True  # whether NUTS may sample the non-centred form

    def theta(self, values) -> float:
        """theta from a point's or a draw's values (the fixed value when it is not there)."""
        return float(np.asarray(values.get(self.parameter, self.start)))

    @abstractmethod
    def log_density(self, Z: pt.TensorLike, theta: pt.TensorLike) -> pt.TensorVariable:
        """log p(Z | theta), summed over rows and latent dims, as a PyTensor graph."""

    @abstractmethod
    def log_density_np(self, Z: np.ndarray, theta: float) -> float:
        """The same in NumPy."""

    @abstractmethod
    def noncentred(self, V: pt.TensorLike, theta: pt.TensorLike) -> pt.TensorVariable:
        """Z from whitened V ~ Normal(0, 1): the parameterisation NUTS samples."""

    @abstractmethod
    def whiten(self, Z: np.ndarray, theta: float) -> np.ndarray:
        """V with ``noncentred(V, theta) = Z``."""

    def starting_latents(self, Z0: np.ndarray) -> np.ndarray:
        """The latents an optimiser starts from, given a PCA (or other) start: by default the same."""
        return Z0

    @abstractmethod
    def q_moments(
        self, q: dict[str, pt.TensorVariable], theta: pt.TensorLike, latent_dim: int
    ) -> tuple[pt.TensorVariable, pt.TensorVariable, pt.TensorVariable]:
        """q(Z)'s means and marginal variances (N, Q) and KL(q || prior), from q's parameters."""

    @abstractmethod
    def q_start(self, Z0: np.ndarray, variances: np.ndarray, theta: float) -> dict[str, np.ndarray]:
        """q's parameters for means ``Z0`` and (roughly) marginal variances ``variances``."""

    @abstractmethod
    def q_at(self, point: dict[str, np.ndarray], theta: float) -> QMoments:
        """q(Z) at fitted parameters ``point``, in NumPy."""

    @abstractmethod
    def record(self, theta: float) -> dict:
        """The prior's settings and theta, for ``metrics.json``."""


def numeric_column(name: str, text: np.ndarray) -> np.ndarray:
    """A covariate column as numbers, or one line naming the first cell that is not one."""
    values = np.empty(len(text))
    for i, cell in enumerate(text):
        try:
            values[i] = float(cell)
        except ValueError:
            raise DataError(
                f"covariate column {name!r}, row {i} (counting from 0): {cell!r} is not a number"
            ) from None
    if not np.all(np.isfinite(values)):
        i = int(np.flatnonzero(~np.isfinite(values))[0])
        raise DataError(f"covariate column {name!r}, row {i} (counting from 0): {text[i]!r} is not finite")
    return values


def standardised_columns(names: list[str], covariates: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The named covariate columns as numbers (N, P), each standardised to mean 0 and sd 1, with
    the mean and sd taken off; a one-line error for a constant column."""
    values = np.column_stack([numeric_column(name, covariates[name]) for name in names])
    spread = values.std(axis=0)
    constant = [name for name, sd in zip(names, spread, strict=True) if not sd > 0]
    if constant:
        raise DataError(f"covariate column {constant[0]!r} is constant: it cannot order the rows")
    offset = values.mean(axis=0)
    return (values - offset) / spread, offset, spread
