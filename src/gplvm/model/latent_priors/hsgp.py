"""The GP latent prior's scalable form (``latent_prior.approximation=hsgp``), for one input.

A Hilbert-space GP (Solin and Särkkä 2020; Riutort-Mayol et al. 2023): on [-L, L] the
stationary kernel is expanded in the Laplacian's eigenfunctions,

    k(t, t') ~ sum_j S(omega_j) phi_j(t) phi_j(t'),
    phi_j(t) = L^-1/2 sin(pi j (t + L) / (2 L)),   omega_j = pi j / (2 L),   j = 1..m,

with S the kernel's spectral density (unit variance). Each sequence (``group``) has its own
copy of the m basis functions, so with G groups

    K_t ~ a I + U U^T,   a = s^2 (w + jitter),   U = Phi diag(s sqrt((1 - w) S)), N x Gm,

and the log density goes through Woodbury and the determinant lemma with one Gm x Gm Cholesky
factor: O(N (Gm) Q) per evaluation after Phi^T Phi (O(N (Gm)^2)) once, memory O(N Gm). The
approximation is accurate for length scales above about 1.75 c max|t| / m (c the boundary
factor, t the standardised input): the default m = 64 and c = 1.5 resolve length scales down to
about 0.07 of the inputs' sd on a uniform grid. MAP and NUTS (centred: Z free with this density);
the Bayesian GPLVM's VGPDS q needs the exact prior.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky, solve_triangular

from gplvm.config import GPLatentPriorConfig
from gplvm.model.constants import LOG_2PI
from gplvm.model.latent_priors.gp import PRIOR_JITTER, GPLatentPrior


def log_spectral_density(kernel: str, omega, lengthscale, xp=np):
    """log S(omega) of a unit-variance rbf or Matern 5/2 kernel in one dimension (numpy or
    pytensor). In logs: the rbf's S underflows to 0 at high frequencies, where sqrt(S) has an
    infinite derivative and the gradient would be NaN."""
    if kernel == "rbf":
        return 0.5 * np.log(2.0 * np.pi) + xp.log(lengthscale) - 0.5 * (lengthscale * omega) ** 2
    rate = 5.0 / lengthscale**2
    return np.log(16.0 / 3.0) + 2.5 * xp.log(rate) - 3.0 * xp.log(rate + omega**2)


@dataclass(frozen=True)
class HSGPLatentPrior(GPLatentPrior):
    """The GP prior with K_t replaced by its Hilbert-space expansion (see the module docstring).

    Attributes
    ----------
    num_basis : int
        m, the basis functions per sequence.
    half_width : float
        L, in standardised input units.
    basis : ndarray, shape (N, G m)
        Phi: each row's m basis values in its group's block of columns.
    gram : ndarray, shape (G m, G m)
        Phi^T Phi, computed once.
    group_values : ndarray or None
        The groups in the order of their column blocks.
    """

    noncentred_ok: ClassVar[bool] = False  # NUTS samples Z centred: L_t would be N x N

    num_basis: int = 64
    half_width: float = 1.0
    basis: np.ndarray | None = None
    gram: np.ndarray | None = None
    group_values: np.ndarray | None = None

    @classmethod
    def from_config(
        cls, cfg: GPLatentPriorConfig, covariates: dict[str, np.ndarray], prior_scale: float
    ) -> HSGPLatentPrior:
        """The approximate prior over the rows whose ``covariates`` are given."""
        return cls.around(
            GPLatentPrior.from_config(cfg, covariates, prior_scale), cfg.num_basis, cfg.boundary_factor
        )

    @classmethod
    def around(cls, exact: GPLatentPrior, num_basis: int, boundary_factor: float) -> HSGPLatentPrior:
        """The approximation of an exact prior's setting (its inputs, groups, kernel and scales)."""
        half_width = boundary_factor * float(np.max(np.abs(exact.inputs)))
        group_values = None if exact.groups is None else np.unique(exact.groups)
        fields = {field.name: getattr(exact, field.name) for field in dataclasses.fields(exact)}
        prior = cls(**fields, num_basis=num_basis, half_width=half_width, group_values=group_values)
        basis = prior.basis_at(exact.inputs, exact.groups)
        object.__setattr__(prior, "basis", basis)
        object.__setattr__(prior, "gram", basis.T @ basis)
        return prior

    @property
    def frequencies(self) -> np.ndarray:
        """omega_j, repeated for each group's block, shape (G m,)."""
        omega = np.pi * np.arange(1, self.num_basis + 1) / (2.0 * self.half_width)
        return np.tile(omega, 1 if self.group_values is None else len(self.group_values))

    def sines(self, inputs: np.ndarray) -> np.ndarray:
        """phi_j at standardised inputs (n, 1), one sequence's m columns: shape (n, m)."""
        t = np.clip(inputs[:, 0], -self.half_width, self.half_width)
        j = np.arange(1, self.num_basis + 1)
        values = np.sin(np.pi * j[None, :] * (t[:, None] + self.half_width) / (2.0 * self.half_width))
        return values / np.sqrt(self.half_width)

    def basis_at(self, inputs: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        """Phi at standardised inputs (n, 1), each row in its group's block of columns (zeros for
        a group the training rows do not have)."""
        values = self.sines(inputs)
        if self.group_values is None:
            return values
        n, m, n_groups = len(values), self.num_basis, len(self.group_values)
        block = np.minimum(np.searchsorted(self.group_values, groups), n_groups - 1)
        known = np.flatnonzero(self.group_values[block] == groups)
        out = np.zeros((n, n_groups, m))
        out[known, block[known], :] = values[known]
        return out.reshape(n, n_groups * m)

    def _scales(self, lengthscale, xp=np):
        """s sqrt((1 - w) S(omega_j)) per basis column."""
        log_S = log_spectral_density(self.kernel_name, self.frequencies, lengthscale, xp)
        return self.prior_scale * np.sqrt(1.0 - self.white) * xp.exp(0.5 * log_S)

    @property
    def _diagonal(self) -> float:
        return self.prior_scale**2 * (self.white + PRIOR_JITTER)

    def log_density(self, Z: pt.TensorLike, lengthscale: pt.TensorLike) -> pt.TensorVariable:
        Z = pt.as_tensor(Z)
        a, c = self._diagonal, self._scales(lengthscale, pt)
        n, q = Z.shape[0], Z.shape[1]
        B = pt.eye(len(self.gram)) + c[:, None] * pt.as_tensor(self.gram) * c[None, :] / a
        L_B = cholesky(B, lower=True)
        A = solve_triangular(L_B, c[:, None] * (pt.as_tensor(self.basis).T @ Z), lower=True)
        quadratic = (pt.sum(Z**2) - pt.sum(A**2) / a) / a
        log_det = n * np.log(a) + 2.0 * pt.sum(pt.log(pt.diag(L_B)))
        return -0.5 * (q * log_det + quadratic) - 0.5 * n * q * LOG_2PI

    def log_density_np(self, Z: np.ndarray, lengthscale: float) -> float:
        a, c = self._diagonal, self._scales(lengthscale)
        L_B = np.linalg.cholesky(np.eye(len(self.gram)) + c[:, None] * self.gram * c[None, :] / a)
        A = np.linalg.solve(L_B, c[:, None] * (self.basis.T @ Z))
        n, q = Z.shape
        quadratic = (np.sum(Z**2) - np.sum(A**2) / a) / a
        log_det = n * np.log(a) + 2.0 * np.sum(np.log(np.diag(L_B)))
        return float(-0.5 * (q * log_det + quadratic) - 0.5 * n * q * LOG_2PI)

    def covariance_np(self, lengthscale: float) -> np.ndarray:
        """The approximate K_t as a dense N x N matrix: for tests and small data only."""
        U = self.basis * self._scales(lengthscale)[None, :]
        return U @ U.T + self._diagonal * np.eye(len(U))

    def conditional(
        self, Z: np.ndarray, lengthscale: float, new_inputs: np.ndarray, new_groups: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The approximate GP's conditional at new raw inputs, through Woodbury (no N x N matrix)."""
        if self.groups is not None and new_groups is None:
            raise ValueError("this prior has groups: give each new row its group")
        t_new = (np.atleast_2d(np.asarray(new_inputs, dtype=float)) - self.input_offset) / self.input_scale
        groups = None if new_groups is None else np.asarray(new_groups, dtype=str)
        a, c = self._diagonal, self._scales(lengthscale)
        U_new = self.basis_at(t_new, groups) * c[None, :]  # k(t*, t) = U_new U^T
        # the approximate prior's own variance at t*, also for a group the training rows lack
        own = self.sines(t_new) * c[None, : self.num_basis]
        B = np.eye(len(self.gram)) + c[:, None] * self.gram * c[None, :] / a
        # k(t*, t) K^-1 = U_new (U^T / a - U^T U B^-1 U^T / a^2) = U_new B^-1 U^T / a
        UtZ = c[:, None] * (self.basis.T @ Z)
        mean = U_new @ np.linalg.solve(B, UtZ) / a
        UtU = c[:, None] * self.gram * c[None, :]
        explained = np.einsum("ij,ij->i", U_new @ np.linalg.solve(B, UtU) / a, U_new)
        return mean, np.maximum(np.sum(own**2, axis=1) + a - explained, 0.0)

    def record(self, theta: float) -> dict:
        return {**super().record(theta), "approximation": "hsgp", "num_basis": self.num_basis}
