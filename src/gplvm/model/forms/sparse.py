"""The sparse form: Titsias's collapsed lower bound with M inducing inputs U, learned with Z:
O(N M^2 + N M D), no N x N matrix, for every kernel.

Its per-column terms are the bound's share of each column, so they sum to the bound, not to
eq. 1. Missing cells batch over the columns: an M x M factorisation per column.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt
from scipy import linalg as sla
from scipy.cluster.vq import kmeans2

from gplvm.errors import NumericalError
from gplvm.model.collapsed_bound import collapsed_bound_by_column, point_collapsed_bound
from gplvm.model.constants import LOG_2PI
from gplvm.model.forms.base import LikelihoodForm, describe
from gplvm.model.graph_ops import column_outer_sums
from gplvm.model.kernels import Hyper, Kernel
from gplvm.model.predictive import PredictiveFactors


class Sparse(LikelihoodForm):
    """Titsias's collapsed bound with M inducing inputs: O(N M^2 + N M D), for every kernel.

    The inducing inputs U (M x Q) are the variational parameter ``inducing``. K_uu gets
    ``jitter * mean(diag K_uu)`` on its diagonal (for stationary kernels, jitter * (variance +
    bias), as the dense form); the noise is the kernel's, as in the dense form, so the bound is
    below the dense log-likelihood of the same model and reaches it when U = Z.
    """

    name = "sparse"
    parameter_dims: ClassVar[dict[str, tuple[str, ...]]] = {"inducing": ("inducing_point", "latent_dim")}

    def __init__(self, kernel: Kernel, num_inducing: int = 64, inducing_init: str = "random") -> None:
        super().__init__(kernel)
        self.num_inducing = num_inducing
        self.inducing_init = str(inducing_init)

    @classmethod
    def from_config(cls, kernel, cfg):
        return cls(kernel, num_inducing=cfg.num_inducing, inducing_init=cfg.inducing_init)

    def initial_parameters(self, Z, seed):
        """U: k-means centres of the starting latents (seeded k-means++), or a random subset of them."""
        m = self.inducing_count(len(Z))
        rng = np.random.default_rng(seed)
        if self.inducing_init == "random" or m == len(Z):
            return {"inducing": Z[np.sort(rng.choice(len(Z), m, replace=False))].copy()}
        with warnings.catch_warnings():
            # An empty cluster keeps its k-means++ seed, itself a latent point: harmless here.
            warnings.simplefilter("ignore")
            centres, _ = kmeans2(Z, m, minit="++", seed=rng)
        return {"inducing": centres}

    def inducing_count(self, n_obs: int) -> int:
        """M: ``num_inducing``, at most the number of observations."""
        return min(self.num_inducing, n_obs)

    def coords(self, n_obs):
        return {"inducing_point": np.arange(self.inducing_count(n_obs))}

    def K_uu(self, hyper: Hyper) -> pt.TensorVariable:
        """k(U, U) plus its relative jitter, as a PyTensor graph."""
        U = pt.as_tensor(hyper["inducing"])
        K = self.kernel.covariance(U, hyper)
        floor = self.kernel.jitter * pt.mean(pt.diagonal(K))
        return K + floor * pt.eye(U.shape[0])

    def K_uu_np(self, hyper: Hyper) -> np.ndarray:
        """:meth:`K_uu` in NumPy."""
        K_uu = self.kernel.covariance_np(np.asarray(hyper["inducing"], dtype=float), hyper)
        K_uu[np.diag_indices_from(K_uu)] += self.kernel.jitter * np.mean(np.diag(K_uu))
        return K_uu

    def log_likelihood(self, Z, Y, hyper, Y_sq_norm=None):
        Psi1 = self.kernel.cross(Z, hyper["inducing"], hyper)
        psi0 = pt.sum(self.kernel.diagonal(Z, hyper))
        noise = self.kernel.noise_variance(hyper)
        return point_collapsed_bound(psi0, Psi1, self.K_uu(hyper), Y, noise, Y_sq_norm)

    def missing_log_likelihood(self, Z, Y, hyper, observed):
        Psi1 = self.kernel.cross(Z, hyper["inducing"], hyper)
        psi0 = pt.as_tensor(observed.T.astype(float)) @ self.kernel.diagonal(Z, hyper)
        Psi2 = column_outer_sums(Psi1, observed)
        noise = self.kernel.noise_variance(hyper)
        return collapsed_bound_by_column(psi0, Psi1, Psi2, self.K_uu(hyper), Y, noise, observed)

    def _factors(self, Z: np.ndarray, hyper: Hyper, where: str):
        """(Psi1, L, L_B, A A^T, noise) in NumPy, or a NumericalError naming the values."""
        U = np.asarray(hyper["inducing"], dtype=float)
        Psi1 = self.kernel.cross_np(Z, U, hyper)
        return (Psi1, *self._statistics_factors(Psi1.T, hyper, where, outer=False))

    def _statistics_factors(self, psi: np.ndarray, hyper: Hyper, where: str, outer: bool):
        """(L, L_B, A A^T, noise), A A^T = L^-1 Psi2 L^-T / noise, from ``psi`` = Psi2 (``outer``)
        or Psi1^T, whose outer product is then formed through A (better conditioned)."""
        U = np.asarray(hyper["inducing"], dtype=float)
        K_uu = self.K_uu_np(hyper)
        noise = float(self.kernel.noise_variance(hyper))
        try:
            L = np.linalg.cholesky(K_uu)
            if outer:
                half = sla.solve_triangular(L, psi, lower=True)
                AAT = sla.solve_triangular(L, half.T, lower=True) / noise
                AAT = 0.5 * (AAT + AAT.T)
            else:
                A = sla.solve_triangular(L, psi, lower=True) / np.sqrt(noise)
                AAT = A @ A.T
            L_B = np.linalg.cholesky(np.eye(len(U)) + AAT)
        except np.linalg.LinAlgError:
            values = describe({k: v for k, v in hyper.items() if k != "inducing"}, self.kernel.jitter)
            raise NumericalError(
                f"K_uu of the {len(U)} inducing inputs is not positive definite {where} ({values}):"
                " raise model.jitter (e.g. 1e-4) or lower model.num_inducing"
            ) from None
        return L, L_B, AAT, noise

    def complete_column_log_likelihoods(self, Z, Y, hyper, where="at the fitted point"):
        Psi1, L, L_B, AAT, noise = self._factors(Z, hyper, where)
        c = sla.solve_triangular(L_B, sla.solve_triangular(L, Psi1.T @ Y, lower=True), lower=True) / noise
        psi0 = float(np.sum(self.kernel.diag_np(Z, hyper)))
        return (
            -0.5 * len(Y) * (LOG_2PI + np.log(noise))
            - np.sum(np.log(np.diag(L_B)))
            - 0.5 * np.einsum("nd,nd->d", Y, Y) / noise
            + 0.5 * np.sum(c**2, axis=0)
            - 0.5 * (psi0 / noise - np.trace(AAT))
        )

    def check_factorisable(self, Z, hyper, where):
        self._factors(Z, hyper, where)

    def complete_factors(self, Z, Y, hyper):
        """The bound's optimal q(u) (see :meth:`statistics_factors`), from Psi1 = k(Z, U)."""
        Psi1, L, L_B, _, noise = self._factors(Z, hyper, "for prediction")
        return self._q_u_factors(Psi1.T @ Y, L, L_B, noise, hyper)

    def statistics_factors(self, psi1_Y: np.ndarray, Psi2: np.ndarray, hyper: Hyper) -> PredictiveFactors:
        """Predictive factors of the bound's optimal q(u), given Psi1^T Y (M, D) and Psi2 (M, M).

        The mean is k(z*, U) (K_uu + Psi2 / noise)^-1 Psi1^T Y / noise; the variance of f is
        k** - k*u K_uu^-1 k_u* + k*u (K_uu + Psi2 / noise)^-1 k_u*. With Z integrated over q(Z),
        Psi1 and Psi2 are expectations under q (the Bayesian GPLVM's q(u)). O(M^2 D + M^3) once,
        O(M^2) a point.
        """
        L, L_B, _, noise = self._statistics_factors(Psi2, hyper, "for prediction", outer=True)
        return self._q_u_factors(psi1_Y, L, L_B, noise, hyper)

    def _q_u_factors(self, psi1_Y, L, L_B, noise, hyper) -> PredictiveFactors:
        # (K_uu + Psi2 / noise)^-1 = (L_B^-1 L^-1)^T (L_B^-1 L^-1)
        L_inv = sla.solve_triangular(L, np.eye(len(L)), lower=True)
        kept = sla.solve_triangular(L_B, L_inv, lower=True)
        weights = kept.T @ (kept @ psi1_Y) / noise
        U = np.asarray(hyper["inducing"], dtype=float)
        return PredictiveFactors(U, weights, L_inv.T, kept.T, noise)

    def predictive_variance(self, Z_new, Z, hyper, chunk: int = 4096):
        """The variance of f under the bound's optimal q(u) (see :meth:`statistics_factors`).

        O(N M^2) to factorise, then O(M^2) per point; no N x N matrix.
        """
        factors = self.complete_factors(Z, np.zeros((len(Z), 0)), hyper)
        hyper = {k: np.asarray(v, dtype=float) for k, v in hyper.items()}
        return np.concatenate(
            [
                factors.f_variance(self.kernel, Z_new[s : s + chunk], hyper)
                for s in range(0, len(Z_new), chunk)
            ]
        )
