"""Covariance functions over the latent positions: one class per kernel, in PyTensor and NumPy.

Every kernel gives k(Z, Z') without the noise term; :meth:`Kernel.K` adds
``beta^-1 + jitter * scale`` to the diagonal, where ``scale`` is the kernel's own prior variance
(0 for the linear kernel, ``variance + bias`` for stationary ones).

Why jitter: a stationary kernel matrix of N points is numerically low-rank (its eigenvalues decay
very fast), so when beta^-1 falls below about 1e-16 * N * variance the Cholesky factorisation of K
fails in floating point although K is positive definite in exact arithmetic. Jitter relative to
the kernel's scale does not depend on the data's units and acts as a floor on the noise variance.
The linear kernel needs none: beta^-1 > 0 keeps K positive definite, and the woodbury form never
factorises K.

Each kernel also gives NumPy derivatives of k, chained with a matrix G = dl/dK (eq. 3) by the
Frobenius product: dl/dZ = G : dk/dZ and dl/dtheta = G : dk/dtheta. Tests compare them with
PyTensor's gradients and with finite differences.

The sparse and Bayesian GPLVMs need, for each row n, the expectations of k under a Gaussian
q(z_n) = N(mu_n, diag S_n): psi0 = sum_n E[k(z_n, z_n)], Psi1[n, m] = E[k(z_n, u_m)] and
Psi2 = sum_n E[k(U, z_n) k(z_n, U)]. Kernels that have them in closed form (linear, rbf) set
``has_psi_statistics``; with S = 0 they reduce to tr K_nn, K_nu and K_un K_nu, which every kernel
gives through :meth:`Kernel.diagonal` and :meth:`Kernel.cross`.

Adding a kernel means adding a class here and registering it in :data:`KERNELS`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt
from scipy.linalg import solve_triangular
from scipy.spatial.distance import cdist

Hyper = Mapping[str, object]  # beta and the kernel's own hyperparameters: numbers, arrays or tensors


def conditional_variance(prior: np.ndarray, cross: np.ndarray, L: np.ndarray) -> np.ndarray:
    """k(z*, z*) - k(z*, Z) K^-1 k(Z, z*) for each row of ``cross`` = k(Z*, Z), with L L^T = K.

    Floored at 0: rounding can take it slightly below.
    """
    A = solve_triangular(L, cross.T, lower=True)
    return np.maximum(prior - np.sum(A**2, axis=0), 0.0)


class Kernel(ABC):
    """A covariance function k(z, z') over latent positions.

    Parameters
    ----------
    ard : bool
        One length scale per latent dim (kernels with ``supports_ard`` only).
    jitter : float
        Relative diagonal jitter, multiplied by :meth:`jitter_scale`.
    """

    name: ClassVar[str]
    hyperparameters: ClassVar[tuple[str, ...]] = ()  # the kernel's own, besides beta
    supports_ard: ClassVar[bool] = False
    # Stationary kernels forget the data far from it: their predictive variance is worth drawing.
    stationary: ClassVar[bool] = False
    has_analytic_optimum: ClassVar[bool] = False  # see analytic_optimum
    has_psi_statistics: ClassVar[bool] = False  # see psi_statistics

    def __init__(self, ard: bool = False, jitter: float = 0.0) -> None:
        if ard and not self.supports_ard:
            raise ValueError(f"the {self.name} kernel has no ARD form")
        self.ard = ard
        self.jitter = jitter

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ard={self.ard}, jitter={self.jitter:g})"

    # ------------------------------------------------------------ PyTensor

    @abstractmethod
    def cross(self, Z: pt.TensorLike, Z_other: pt.TensorLike, hyper: Hyper) -> pt.TensorVariable:
        """k(Z, Z_other), shape (N, M), as a PyTensor graph."""

    @abstractmethod
    def diagonal(self, Z: pt.TensorLike, hyper: Hyper) -> pt.TensorVariable:
        """k(z_n, z_n) for every row, shape (N,), as a PyTensor graph."""

    def covariance(self, Z: pt.TensorLike, hyper: Hyper) -> pt.TensorVariable:
        """k(Z, Z), shape (N, N), without the noise term."""
        return self.cross(Z, Z, hyper)

    def K(self, Z: pt.TensorLike, hyper: Hyper) -> pt.TensorVariable:
        """K = k(Z, Z) + noise I, the covariance of every column of Y."""
        Z = pt.as_tensor(Z)
        return self.covariance(Z, hyper) + self.noise_variance(hyper) * pt.eye(Z.shape[0])

    # ------------------------------------------------------------ NumPy

    @abstractmethod
    def cross_np(self, Z: np.ndarray, Z_other: np.ndarray, hyper: Hyper) -> np.ndarray:
        """k(Z, Z_other) in NumPy."""

    @abstractmethod
    def diag_np(self, Z: np.ndarray, hyper: Hyper) -> np.ndarray:
        """k(z_n, z_n) for every row, shape (N,)."""

    def covariance_np(self, Z: np.ndarray, hyper: Hyper) -> np.ndarray:
        """k(Z, Z) in NumPy."""
        return self.cross_np(Z, Z, hyper)

    def K_np(self, Z: np.ndarray, hyper: Hyper) -> np.ndarray:
        """K = k(Z, Z) + noise I in NumPy (N x N)."""
        return self.covariance_np(Z, hyper) + self.noise_variance(hyper) * np.eye(len(Z))

    def jitter_scale(self, hyper: Hyper):
        """What ``jitter`` is relative to; 0 for kernels that need none."""
        return 0.0

    def noise_variance(self, hyper: Hyper):
        """What is added to the diagonal: beta^-1 + jitter * :meth:`jitter_scale`."""
        return 1.0 / hyper["beta"] + self.jitter * self.jitter_scale(hyper)

    def relevance(self, hyper: Hyper) -> np.ndarray | None:
        """Per latent dim, how fast k changes along it (GPy's ``input_sensitivity``); None without ARD."""
        return None

    def predictive_variance(
        self, Z_new: np.ndarray, Z: np.ndarray, hyper: Hyper, chunk: int = 2048
    ) -> np.ndarray:
        """Variance of the latent function f at ``Z_new`` given f at the training latents Z.

        var(z*) = k(z*, z*) - k(z*, Z) K^-1 k(Z, z*): near the data it falls towards the noise
        level, far from it (for stationary kernels) it returns to the prior variance. It is the
        same for every output dimension. Rows are processed ``chunk`` at a time, so memory stays
        O(chunk N).
        """
        L = np.linalg.cholesky(self.K_np(Z, hyper))
        out = np.empty(len(Z_new))
        for start in range(0, len(Z_new), chunk):
            rows = Z_new[start : start + chunk]
            out[start : start + chunk] = conditional_variance(
                self.diag_np(rows, hyper), self.cross_np(rows, Z, hyper), L
            )
        return out

    # ------------------------------------------------------------ derivatives (NumPy)

    @abstractmethod
    def grad_Z_np(self, G: np.ndarray, Z: np.ndarray, hyper: Hyper) -> np.ndarray:
        """dl/dZ = G : dk/dZ for a symmetric G = dl/dK."""

    def grad_hyper_np(self, G: np.ndarray, Z: np.ndarray, hyper: Hyper) -> dict[str, np.ndarray]:
        """dl/dtheta for beta and each of the kernel's hyperparameters, jitter included."""
        return {"beta": -np.trace(G) / np.asarray(hyper["beta"]) ** 2}

    def analytic_optimum(self, Y: np.ndarray, latent_dim: int, beta: float, prior_scale: float):
        """The closed-form MAP of Z for this kernel, or None when there is none."""
        return None

    # ------------------------------------------------------------ expectations under q(Z)

    def psi_statistics(
        self, mean: pt.TensorLike, variance: pt.TensorLike, inducing: pt.TensorLike, hyper: Hyper
    ) -> tuple[pt.TensorVariable, pt.TensorVariable, pt.TensorVariable]:
        """psi0 (scalar), Psi1 (N, M) and Psi2 (M, M) under q(z_n) = N(mean_n, diag variance_n).

        PyTensor graphs; ``inducing`` is U (M, Q). Only kernels with ``has_psi_statistics``.
        """
        raise NotImplementedError(f"the {self.name} kernel has no closed-form psi statistics")

    def psi_statistics_by_column(
        self,
        mean: pt.TensorLike,
        variance: pt.TensorLike,
        inducing: pt.TensorLike,
        hyper: Hyper,
        observed: np.ndarray,
    ) -> tuple[pt.TensorVariable, pt.TensorVariable, pt.TensorVariable]:
        """psi0 (D,), Psi1 (N, M) and Psi2 (D, M, M) with the sums over each column's observed rows.

        ``observed`` (bool, N x D) marks the observed cells (data with missing cells).
        """
        raise NotImplementedError(f"the {self.name} kernel has no closed-form psi statistics")


class Linear(Kernel):
    """k(z, z') = z^T z': dual probabilistic PCA, whose optimum is known in closed form."""

    name = "linear"
    has_analytic_optimum = True

    has_psi_statistics = True

    def cross(self, Z, Z_other, hyper):
        return pt.as_tensor(Z) @ pt.as_tensor(Z_other).T

    def diagonal(self, Z, hyper):
        return pt.sum(pt.as_tensor(Z) ** 2, axis=1)

    def psi_statistics(self, mean, variance, inducing, hyper):
        mean, variance, U = pt.as_tensor(mean), pt.as_tensor(variance), pt.as_tensor(inducing)
        psi0 = pt.sum(mean**2) + pt.sum(variance)
        second_moment = mean.T @ mean + pt.diag(pt.sum(variance, axis=0))  # sum_n E[z_n z_n^T]
        return psi0, mean @ U.T, U @ second_moment @ U.T

    def psi_statistics_by_column(self, mean, variance, inducing, hyper, observed):
        from gplvm.model.forms import column_outer_sums

        mean, variance, U = pt.as_tensor(mean), pt.as_tensor(variance), pt.as_tensor(inducing)
        mask_T = pt.as_tensor(observed.T.astype(float))
        psi0 = mask_T @ (pt.sum(mean**2, axis=1) + pt.sum(variance, axis=1))
        # sum over each column's rows of E[z_n z_n^T]: (D, Q, Q)
        second_moment = column_outer_sums(mean, observed) + (mask_T @ variance)[:, :, None] * pt.eye(
            mean.shape[1]
        )
        return psi0, mean @ U.T, U @ second_moment @ U.T

    def cross_np(self, Z, Z_other, hyper):
        return Z @ Z_other.T

    def diag_np(self, Z, hyper):
        return np.sum(Z**2, axis=1)

    def grad_Z_np(self, G, Z, hyper):
        # dl = G : (Z dZ^T + dZ Z^T) = (G + G^T) Z : dZ
        return (G + G.T) @ Z

    def analytic_optimum(self, Y, latent_dim, beta, prior_scale):
        from gplvm.model.analytic import analytic_optimum

        return analytic_optimum(Y, latent_dim, beta, prior_scale)


class Stationary(Kernel):
    """k(z, z') = variance * f(r^2) + bias with r^2 = sum_q (z_q - z'_q)^2 / lengthscale_q^2."""

    hyperparameters = ("variance", "lengthscale", "bias")
    supports_ard = True
    stationary = True

    @abstractmethod
    def profile(self, r2):
        """f(r^2) with f(0) = 1; works on PyTensor tensors and NumPy arrays alike."""

    @abstractmethod
    def profile_slope(self, r2: np.ndarray) -> np.ndarray:
        """df/d(r^2) in NumPy."""

    def _scaled_sq_dist(self, Z, Z_other, lengthscale):
        A, B = pt.as_tensor(Z) / lengthscale, pt.as_tensor(Z_other) / lengthscale
        sq = pt.sum(A**2, axis=1)[:, None] + pt.sum(B**2, axis=1)[None, :] - 2.0 * A @ B.T
        return pt.maximum(sq, 0.0)  # rounding can take it below 0

    def cross(self, Z, Z_other, hyper):
        r2 = self._scaled_sq_dist(Z, Z_other, hyper["lengthscale"])
        return hyper["variance"] * self.profile(r2) + hyper["bias"]

    def diagonal(self, Z, hyper):
        return (hyper["variance"] + hyper["bias"]) * pt.ones(pt.as_tensor(Z).shape[0])

    def _r2_np(self, Z, Z_other, hyper):
        ell = np.asarray(hyper["lengthscale"], dtype=float)
        return cdist(Z / ell, Z_other / ell, "sqeuclidean")

    def cross_np(self, Z, Z_other, hyper):
        return hyper["variance"] * self.profile(self._r2_np(Z, Z_other, hyper)) + hyper["bias"]

    def diag_np(self, Z, hyper):
        return np.full(len(Z), hyper["variance"] + hyper["bias"])

    def jitter_scale(self, hyper):
        return hyper["variance"] + hyper["bias"]

    def relevance(self, hyper):
        if not self.ard:
            return None
        return np.asarray(hyper["variance"]) / np.asarray(hyper["lengthscale"], dtype=float) ** 2

    def _weights(self, G, Z, hyper):
        """W_ab = G_ab * variance * f'(r_ab^2): G : dk/d(r^2)."""
        return G * hyper["variance"] * self.profile_slope(self._r2_np(Z, Z, hyper))

    def grad_Z_np(self, G, Z, hyper):
        # dr_ab^2/dz_iq = 2 (z_aq - z_bq) / l_q^2 (delta_ai - delta_bi); G and r^2 are symmetric.
        ell2 = np.broadcast_to(np.asarray(hyper["lengthscale"], dtype=float) ** 2, (Z.shape[1],))
        W = self._weights(G, Z, hyper)
        return 4.0 * (W.sum(axis=1)[:, None] * Z - W @ Z) / ell2

    def grad_hyper_np(self, G, Z, hyper):
        ell = np.asarray(hyper["lengthscale"], dtype=float)
        sq_diff = (Z[:, None, :] - Z[None, :, :]) ** 2  # (N, N, Q)
        ell_q = np.broadcast_to(ell, (Z.shape[1],))
        # dr^2/dl_q = -2 (z_q - z'_q)^2 / l_q^3
        per_dim = -2.0 * np.einsum("ab,abq->q", self._weights(G, Z, hyper), sq_diff) / ell_q**3
        trace = np.trace(G) * self.jitter  # the jitter's share of the diagonal
        return {
            **super().grad_hyper_np(G, Z, hyper),
            "variance": np.sum(G * self.profile(self._r2_np(Z, Z, hyper))) + trace,
            "lengthscale": per_dim if ell.ndim else per_dim.sum(),
            "bias": np.sum(G) + trace,
        }


class RBF(Stationary):
    """Squared exponential: f(r^2) = exp(-r^2 / 2). Smooth to every order."""

    name = "rbf"
    has_psi_statistics = True

    def profile(self, r2):
        return np.exp(-0.5 * r2) if isinstance(r2, np.ndarray) else pt.exp(-0.5 * r2)

    def profile_slope(self, r2):
        return -0.5 * np.exp(-0.5 * r2)

    def psi_statistics(self, mean, variance, inducing, hyper):
        # Gaussian integrals of products of Gaussians (Titsias & Lawrence 2010). Squared distances
        # are expanded into matrix products, so nothing is (N, M, Q); the O(N M^2 Q) sum of Psi2
        # is a compiled Op (gplvm.model.expectations.psi_ops) that forms no (N, M^2) temporary.
        from gplvm.model.expectations.psi_ops import coupling_sum  # numba: loaded only for the Bayesian GPLVM

        psi1_unit, e, w2, U, apart = self._psi_parts(mean, variance, inducing, hyper)
        s2, bias = hyper["variance"], hyper["bias"]
        psi2_unit = pt.exp(-0.25 * apart) * coupling_sum(e, w2, U)
        column_sums = pt.sum(psi1_unit, axis=0)
        n_obs = psi1_unit.shape[0]
        psi0 = n_obs * (s2 + bias)
        Psi1 = s2 * psi1_unit + bias
        Psi2 = s2**2 * psi2_unit + s2 * bias * (column_sums[:, None] + column_sums[None, :]) + n_obs * bias**2
        return psi0, Psi1, Psi2

    def psi_statistics_by_column(self, mean, variance, inducing, hyper, observed):
        # Each row's Psi2 term as an (N, M^2) matrix, then one product with the mask sums them per
        # column: O(N M^2 (Q + D)), 8 N M^2 bytes a temporary (59 MB on digits at M = 64).
        psi1_unit, e, w2, U, apart = self._psi_parts(mean, variance, inducing, hyper)
        s2, bias = hyper["variance"], hyper["bias"]
        n_rows, n_inducing = e.shape[0], U.shape[0]
        pairs = (U[:, None, :] * U[None, :, :]).reshape((n_inducing * n_inducing, U.shape[1]))
        rows = pt.exp(-0.5 * w2 @ pairs.T) * (e[:, :, None] * e[:, None, :]).reshape((n_rows, -1))
        mask_T = pt.as_tensor(observed.T.astype(float))
        per_column = (mask_T @ rows).reshape((mask_T.shape[0], n_inducing, n_inducing))
        column_sums = mask_T @ psi1_unit  # (D, M)
        counts = observed.sum(axis=0).astype(float)
        psi0 = pt.as_tensor(counts) * (s2 + bias)
        Psi2 = (
            s2**2 * pt.exp(-0.25 * apart)[None] * per_column
            + s2 * bias * (column_sums[:, :, None] + column_sums[:, None, :])
            + counts[:, None, None] * bias**2
        )
        return psi0, s2 * psi1_unit + bias, Psi2

    def _psi_parts(self, mean, variance, inducing, hyper):
        """(psi1 without variance and bias (N, M), e (N, M), w2 (N, Q), U, ||u - u'||^2 / l^2 (M, M)):
        the pieces of :meth:`psi_statistics` shared by its per-column version."""
        mean, S, U = pt.as_tensor(mean), pt.as_tensor(variance), pt.as_tensor(inducing)
        ell2 = pt.as_tensor(hyper["lengthscale"]) ** 2 * pt.ones(mean.shape[1])

        # Psi1: prod_q (1 + S/l^2)^-1/2 exp(-(mu - u)^2 / (2 (l^2 + S)))
        w1 = 1.0 / (ell2 + S)
        sq1 = pt.sum(mean**2 * w1, axis=1)[:, None] - 2.0 * (mean * w1) @ U.T + w1 @ (U**2).T
        log_scale1 = -0.5 * pt.sum(pt.log1p(S / ell2), axis=1)
        psi1_unit = pt.exp(log_scale1[:, None] - 0.5 * sq1)  # (N, M)

        # Psi2: sum_n prod_q (1 + 2S/l^2)^-1/2 exp(-(u - u')^2 / (4 l^2) - (mu - (u + u')/2)^2 / (l^2 + 2S)).
        # (mu - (u+u')/2)^2 = mu^2 - mu u - mu u' + u^2/4 + u'^2/4 + u u'/2: the terms in one of m, m'
        # factor out as e_nm e_nm', the last couples them.
        w2 = 1.0 / (ell2 + 2.0 * S)
        log_scale2 = -0.5 * pt.sum(pt.log1p(2.0 * S / ell2), axis=1)
        half_row = 0.5 * (log_scale2 - pt.sum(mean**2 * w2, axis=1))
        e = pt.exp(half_row[:, None] + (mean * w2) @ U.T - 0.25 * w2 @ (U**2).T)  # (N, M)
        apart = pt.sum((U[:, None, :] - U[None, :, :]) ** 2 / ell2, axis=2)
        return psi1_unit, e, w2, U, apart


SQRT5 = math.sqrt(5.0)
# sqrt has an infinite slope at 0; r^2 is floored here so that its gradient at the diagonal is 0.
_R2_FLOOR = 1e-36


class Matern52(Stationary):
    """Matérn 5/2: f(r) = (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r). Twice differentiable."""

    name = "matern52"

    def profile(self, r2):
        if isinstance(r2, np.ndarray):
            r = np.sqrt(r2)
            return (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * np.exp(-SQRT5 * r)
        r = pt.sqrt(pt.maximum(r2, _R2_FLOOR))
        return (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * pt.exp(-SQRT5 * r)

    def profile_slope(self, r2):
        r = np.sqrt(r2)
        return -5.0 / 6.0 * (1.0 + SQRT5 * r) * np.exp(-SQRT5 * r)


KERNELS: dict[str, type[Kernel]] = {k.name: k for k in (Linear, RBF, Matern52)}


def make_kernel(name: str, ard: bool = False, jitter: float = 0.0) -> Kernel:
    """The kernel registered as ``name``."""
    try:
        return KERNELS[name](ard=ard, jitter=jitter)
    except KeyError:
        raise ValueError(f"kernel {name!r} is unknown; choose one of {', '.join(sorted(KERNELS))}") from None
