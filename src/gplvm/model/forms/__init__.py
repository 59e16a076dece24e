"""The GPLVM log marginal likelihood, eq. 1 with its constant: one class per way of computing it.

Given Z and the hyperparameters the D columns of Y are independent draws from N(0, K), so eq. 1
is a sum of per-column terms. Each form gives that sum as a PyTensor graph (what MAP and NUTS
differentiate) and the per-column terms in NumPy at given values (fitted points, posterior draws,
held-out columns):

- ``woodbury``: for the linear kernel only. With M = I_Q + beta Z^T Z it costs
  O(N Q^2 + N Q D) and never forms an N x N matrix, so it scales to N = 10^5 and beyond.
- ``dense``: a Cholesky factorisation of the N x N matrix K, O(N^3), for every kernel; the
  reference the woodbury form is tested against.
- ``sparse``: Titsias's collapsed variational lower bound with M inducing inputs U, learned
  with Z: O(N M^2 + N M D), no N x N matrix, for every kernel. Its per-column terms are the
  bound's share of each column, so they sum to the bound, not to eq. 1.

Missing cells (NaN in Y) are left out column by column: each column contributes the density of
its observed rows (see :mod:`gplvm.data.missing`). Woodbury and sparse batch that over the columns
(a Q x Q or M x M factorisation per column); dense factorises K once per set of columns that
miss the same rows.

Gradients come from PyTensor's automatic differentiation; the tests compare them with eqs. 3-4.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky, slogdet, solve, solve_triangular
from scipy import linalg as sla

from gplvm.data.missing import by_column_groups, column_groups, has_missing
from gplvm.errors import ConfigError, NumericalError
from gplvm.model.kernels import Hyper, Kernel, Linear, conditional_variance

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


def _batch_diagonal(A: pt.TensorVariable) -> pt.TensorVariable:
    """The diagonals of a stack of square matrices (..., n, n) -> (..., n).

    By masking rather than ExtractDiag: the gradient of a batched ExtractDiag fills strided
    zeros, 30 ms per call at D = 64, M = 64 on the python backend.
    """
    return pt.sum(A * pt.eye(A.shape[-1]), axis=-1)


def _stacked_logdet(A: pt.TensorVariable) -> pt.TensorVariable:
    """sum of log det over a stack of positive definite matrices (D, n, n).

    PyTensor's rewrites may turn it into a stacked Cholesky; for the numba backend that needs
    :mod:`gplvm.inference.numba_support` (registered by the numba compile modes).
    """
    return pt.sum(slogdet(A)[1])


def _stacked_quadratic(A: pt.TensorVariable, b: pt.TensorVariable) -> pt.TensorVariable:
    """sum_d b_d^T A_d^-1 b_d over a stack of positive definite A (D, n, n) and b (D, n, 1)."""
    return pt.sum(b * solve(A, b, assume_a="pos"))


def masked_woodbury_log_likelihood(
    Z: pt.TensorLike, Y: pt.TensorLike, beta: pt.TensorLike, observed: np.ndarray
) -> pt.TensorVariable:
    """Eq. 1 of the observed cells only, for K = Z Z^T + beta^-1 I: O(N Q^2 D), nothing N x N.

    Column d with observed rows O_d has M_d = I_Q + beta Z^T diag(m_d) Z (m_d its 0/1 mask) and
    the woodbury formulas of :func:`woodbury_log_likelihood` with the sums over O_d; Z^T y_d
    needs no mask once the missing cells are zero.

    Parameters
    ----------
    Y : tensor, shape (N, D)
        Centred data; its missing cells may hold anything (NaN): they are replaced by zero.
    observed : ndarray of bool, shape (N, D)
        Which cells are observed.
    """
    Z, beta = pt.as_tensor(Z), pt.as_tensor(beta)
    mask = pt.as_tensor(observed.astype(float))
    Y0 = pt.switch(pt.as_tensor(observed), Y, 0.0)
    n_cells = int(observed.sum())
    n_rows, latent_dim = Z.shape[0], Z.shape[1]
    outer = (Z[:, :, None] * Z[:, None, :]).reshape((n_rows, latent_dim * latent_dim))
    M = pt.eye(latent_dim) + beta * (mask.T @ outer).reshape((mask.shape[1], latent_dim, latent_dim))
    logdet = -n_cells * pt.log(beta) + _stacked_logdet(M)
    b = (Z.T @ Y0).T[:, :, None]  # (D, Q, 1)
    trace = beta * pt.sum(Y0**2) - beta**2 * _stacked_quadratic(M, b)
    return -0.5 * logdet - 0.5 * trace - 0.5 * n_cells * LOG_2PI


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
    # Variational parameters the form adds to the model, by name with their dims; the graph reads
    # them from ``hyper`` like hyperparameters.
    parameter_dims: ClassVar[dict[str, tuple[str, ...]]] = {}

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
        if not has_missing(Y):
            return self.complete_predictor(Z, Y, hyper)
        parts = [
            (g.cols, self.complete_predictor(Z[g.rows], Y[np.ix_(g.rows, g.cols)], hyper))
            for g in column_groups(~np.isnan(Y))
        ]

        def predict(Z_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mean = np.empty((len(Z_new), Y.shape[1]))
            var = np.empty_like(mean)
            for cols, part in parts:
                mean[:, cols], var_part = part(Z_new)
                var[:, cols] = var_part[:, None]
            return mean, var

        return predict

    def complete_predictor(self, Z: np.ndarray, Y: np.ndarray, hyper: Hyper):
        """:meth:`predictor` for a Y without missing cells.

        This dense version factorises K once (O(N^3)); each call is a product and a triangular solve.
        """
        L = np.linalg.cholesky(self.kernel.K_np(Z, hyper))
        alpha = sla.cho_solve((L, True), Y)
        noise = float(self.kernel.noise_variance(hyper))

        def predict(Z_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            cross = self.kernel.cross_np(Z_new, Z, hyper)
            var_f = conditional_variance(self.kernel.diag_np(Z_new, hyper), cross, L)
            return cross @ alpha, var_f + noise

        return predict

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


class Woodbury(LikelihoodForm):
    """O(N Q^2 + N Q D) for the linear kernel: nothing N x N is formed."""

    name = "woodbury"

    @classmethod
    def supports(cls, kernel: Kernel) -> bool:
        return isinstance(kernel, Linear)

    def log_likelihood(self, Z, Y, hyper, Y_sq_norm=None):
        return woodbury_log_likelihood(Z, Y, hyper["beta"], Y_sq_norm)

    def missing_log_likelihood(self, Z, Y, hyper, observed):
        return masked_woodbury_log_likelihood(Z, Y, hyper["beta"], observed)

    def complete_predictor(self, Z, Y, hyper):
        """O(N Q^2 + N Q D) once: with P = Z^T Z + I / beta, the mean is Z* P^-1 Z^T Y and the
        variance of f is z*^T P^-1 z* / beta (push-through identity), plus the noise 1 / beta."""
        noise = 1.0 / float(hyper["beta"])
        P_inv = np.linalg.inv(Z.T @ Z + noise * np.eye(Z.shape[1]))
        weights = P_inv @ (Z.T @ Y)

        def predict(Z_new):
            return Z_new @ weights, noise * np.einsum("nq,nq->n", Z_new @ P_inv, Z_new) + noise

        return predict

    def complete_column_log_likelihoods(self, Z, Y, hyper, where="at the fitted point"):
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

    def complete_column_log_likelihoods(self, Z, Y, hyper, where="at the fitted point"):
        L = self.cholesky(Z, hyper, where)
        A = sla.solve_triangular(L, Y, lower=True)
        logdet = 2.0 * np.sum(np.log(np.diag(L)))
        return -0.5 * logdet - 0.5 * np.sum(A**2, axis=0) - 0.5 * len(Y) * LOG_2PI

    def check_factorisable(self, Z, hyper, where):
        self.cholesky(Z, hyper, where)


def collapsed_bound(
    psi0: pt.TensorLike,
    Psi1: pt.TensorLike,
    Psi2: pt.TensorLike,
    Kuu: pt.TensorLike,
    Y: pt.TensorLike,
    noise: pt.TensorLike,
    Y_sq_norm: pt.TensorLike | None = None,
) -> pt.TensorVariable:
    """Titsias's collapsed lower bound on eq. 1 from the psi statistics, summed over the columns.

    With L L^T = K_uu, A A^T = L^-1 Psi2 L^-T / noise, L_B L_B^T = I + A A^T and
    c = L_B^-1 L^-1 Psi1^T Y / noise::

        F = -N D / 2 ln(2 pi noise) - D sum ln diag L_B - ||Y||^2 / (2 noise) + ||c||^2 / 2
            - D / 2 (psi0 / noise - tr(A A^T))

    The M x M factorisations are shared by all D columns: O(N M^2 + N M D + M^3).
    """
    Psi1, Psi2, Y = pt.as_tensor(Psi1), pt.as_tensor(Psi2), pt.as_tensor(Y)
    n_obs, n_features = Y.shape[0], Y.shape[1]
    L = cholesky(Kuu, lower=True)
    half = solve_triangular(L, Psi2, lower=True)
    AAT = solve_triangular(L, half.T, lower=True) / noise
    L_B = cholesky(pt.eye(AAT.shape[0]) + AAT, lower=True)
    c = solve_triangular(L_B, solve_triangular(L, Psi1.T @ Y, lower=True), lower=True) / noise
    Y_sq_norm = pt.sum(Y**2) if Y_sq_norm is None else pt.as_tensor(Y_sq_norm)
    return (
        -0.5 * n_obs * n_features * (LOG_2PI + pt.log(noise))
        - n_features * pt.sum(pt.log(pt.diagonal(L_B)))
        - 0.5 * Y_sq_norm / noise
        + 0.5 * pt.sum(c**2)
        - 0.5 * n_features * (psi0 / noise - pt.trace(AAT))
    )


def collapsed_bound_by_column(
    psi0: pt.TensorLike,
    Psi1: pt.TensorLike,
    Psi2: pt.TensorLike,
    Kuu: pt.TensorLike,
    Y: pt.TensorLike,
    noise: pt.TensorLike,
    observed: np.ndarray,
) -> pt.TensorVariable:
    """:func:`collapsed_bound` of the observed cells: each column's bound from its observed rows.

    ``psi0`` (D,) and ``Psi2`` (D, M, M) are summed over each column's observed rows; ``Psi1``
    (N, M) is shared. Missing cells of ``Y`` (any value) count as zero. O(N M D + D M^3).
    """
    Psi1, Psi2 = pt.as_tensor(Psi1), pt.as_tensor(Psi2)
    Y0 = pt.switch(pt.as_tensor(observed), Y, 0.0)
    n_cells = int(observed.sum())
    L = cholesky(Kuu, lower=True)
    n_cols, m = Psi2.shape[0], Psi2.shape[1]

    def left_solve(stack):  # L^-1 S_d for every d, as one 2-D triangular solve on (M, D M)
        flat = stack.transpose(1, 0, 2).reshape((m, n_cols * m))
        return solve_triangular(L, flat, lower=True).reshape((m, n_cols, m)).transpose(1, 0, 2)

    AAT = left_solve(left_solve(Psi2).mT) / noise  # L^-1 Psi2_d L^-T / noise
    B = pt.eye(m) + AAT
    projected = solve_triangular(L, Psi1.T @ Y0, lower=True).T[:, :, None]  # (D, M, 1)
    trace_AAT = pt.sum(_batch_diagonal(AAT))
    return (
        -0.5 * n_cells * (LOG_2PI + pt.log(noise))
        - 0.5 * _stacked_logdet(B)
        - 0.5 * pt.sum(Y0**2) / noise
        + 0.5 * _stacked_quadratic(B, projected) / noise**2
        - 0.5 * (pt.sum(psi0) / noise - trace_AAT)
    )


def column_outer_sums(Psi1: pt.TensorLike, observed: np.ndarray) -> pt.TensorVariable:
    """sum over each column's observed rows n of psi1_n psi1_n^T, shape (D, M, M).

    Each column gathers the fewer of its two row sets: with few missing cells, the full sum minus
    that of the missing rows (20% missing: a fifth of the work of summing the observed rows).
    Columns are padded to the same number of rows with zero-weight rows.
    """
    Psi1 = pt.as_tensor(Psi1)
    subtract = np.count_nonzero(~observed) < np.count_nonzero(observed)
    chosen = ~observed if subtract else observed
    width = max(int(chosen.sum(axis=0).max()), 1)
    index = np.zeros((chosen.shape[1], width), dtype=np.int64)
    weight = np.zeros((chosen.shape[1], width))
    for d in range(chosen.shape[1]):
        rows = np.flatnonzero(chosen[:, d])
        index[d, : len(rows)], weight[d, : len(rows)] = rows, 1.0
    gathered = Psi1[index] * weight[:, :, None]  # (D, width, M)
    part = gathered.mT @ gathered
    return (Psi1.T @ Psi1)[None, :, :] - part if subtract else part


def gaussian_kl(mean: pt.TensorLike, variance: pt.TensorLike, prior_scale: float) -> pt.TensorVariable:
    """KL(prod N(mean, variance) || N(0, prior_scale^2)), summed over every entry."""
    ratio = pt.as_tensor(variance) / prior_scale**2
    return 0.5 * pt.sum(ratio + pt.as_tensor(mean) ** 2 / prior_scale**2 - 1.0 - pt.log(ratio))


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
        import warnings

        from scipy.cluster.vq import kmeans2

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

    def log_likelihood(self, Z, Y, hyper, Y_sq_norm=None):
        Psi1 = self.kernel.cross(Z, hyper["inducing"], hyper)
        psi0 = pt.sum(self.kernel.diagonal(Z, hyper))
        noise = self.kernel.noise_variance(hyper)
        return collapsed_bound(psi0, Psi1, Psi1.T @ Psi1, self.K_uu(hyper), Y, noise, Y_sq_norm)

    def missing_log_likelihood(self, Z, Y, hyper, observed):
        Psi1 = self.kernel.cross(Z, hyper["inducing"], hyper)
        psi0 = pt.as_tensor(observed.T.astype(float)) @ self.kernel.diagonal(Z, hyper)
        Psi2 = column_outer_sums(Psi1, observed)
        noise = self.kernel.noise_variance(hyper)
        return collapsed_bound_by_column(psi0, Psi1, Psi2, self.K_uu(hyper), Y, noise, observed)

    def expected_log_likelihood(
        self, mean: pt.TensorLike, variance: pt.TensorLike, Y: pt.TensorLike, hyper: Hyper, Y_sq_norm=None
    ) -> pt.TensorVariable:
        """The bound with Z integrated over q(Z) = N(mean, diag variance): the Bayesian GPLVM's data term."""
        psi0, Psi1, Psi2 = self.kernel.psi_statistics(mean, variance, hyper["inducing"], hyper)
        noise = self.kernel.noise_variance(hyper)
        return collapsed_bound(psi0, Psi1, Psi2, self.K_uu(hyper), Y, noise, Y_sq_norm)

    def expected_missing_log_likelihood(
        self,
        mean: pt.TensorLike,
        variance: pt.TensorLike,
        Y: pt.TensorLike,
        hyper: Hyper,
        observed: np.ndarray,
    ) -> pt.TensorVariable:
        """:meth:`expected_log_likelihood` of the observed cells: each column's bound from its rows."""
        psi0, Psi1, Psi2 = self.kernel.psi_statistics_by_column(
            mean, variance, hyper["inducing"], hyper, observed
        )
        noise = self.kernel.noise_variance(hyper)
        return collapsed_bound_by_column(psi0, Psi1, Psi2, self.K_uu(hyper), Y, noise, observed)

    def _factors(self, Z: np.ndarray, hyper: Hyper, where: str):
        """(Psi1, L, L_B, A A^T, noise) in NumPy, or a NumericalError naming the values."""
        U = np.asarray(hyper["inducing"], dtype=float)
        K_uu = self.kernel.covariance_np(U, hyper)
        K_uu[np.diag_indices_from(K_uu)] += self.kernel.jitter * np.mean(np.diag(K_uu))
        noise = float(self.kernel.noise_variance(hyper))
        Psi1 = self.kernel.cross_np(Z, U, hyper)
        try:
            L = np.linalg.cholesky(K_uu)
            A = sla.solve_triangular(L, Psi1.T, lower=True) / np.sqrt(noise)
            AAT = A @ A.T
            L_B = np.linalg.cholesky(np.eye(len(U)) + AAT)
        except np.linalg.LinAlgError:
            values = describe({k: v for k, v in hyper.items() if k != "inducing"}, self.kernel.jitter)
            raise NumericalError(
                f"K_uu of the {len(U)} inducing inputs is not positive definite {where} ({values}):"
                " raise model.jitter (e.g. 1e-4) or lower model.num_inducing"
            ) from None
        return Psi1, L, L_B, AAT, noise

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

    def _at(self, Z_new, L, L_B, hyper):
        """(L_B^-1 L^-1 k(U, Z*), variance of f at Z*) under the bound's optimal q(u):
        k** - k*u K_uu^-1 k_u* + k*u (K_uu + Psi2 / noise)^-1 k_u*."""
        A = sla.solve_triangular(L, self.kernel.cross_np(hyper["inducing"], Z_new, hyper), lower=True)
        kept = sla.solve_triangular(L_B, A, lower=True)
        var_f = self.kernel.diag_np(Z_new, hyper) - np.sum(A**2, 0) + np.sum(kept**2, 0)
        return kept, np.maximum(var_f, 0.0)

    def complete_predictor(self, Z, Y, hyper):
        """The bound's optimal q(u): mean k(z*, U) (K_uu + Psi2 / noise)^-1 Psi1^T Y / noise, and the
        variance of :meth:`predictive_variance` plus the noise. O(N M^2 + N M D) once, O(M^2) a point.
        """
        Psi1, L, L_B, _, noise = self._factors(Z, hyper, "for prediction")
        c = sla.solve_triangular(L_B, sla.solve_triangular(L, Psi1.T @ Y, lower=True), lower=True) / noise
        hyper = {**hyper, "inducing": np.asarray(hyper["inducing"], dtype=float)}

        def predict(Z_new):
            kept, var_f = self._at(Z_new, L, L_B, hyper)
            return kept.T @ c, var_f + noise

        return predict

    def predictive_variance(self, Z_new, Z, hyper, chunk: int = 4096):
        """The variance of f under the bound's optimal q(u) (see :meth:`_at`).

        O(N M^2) to factorise, then O(M^2) per point; no N x N matrix.
        """
        _, L, L_B, _, _ = self._factors(Z, hyper, "for the predictive variance")
        hyper = {**hyper, "inducing": np.asarray(hyper["inducing"], dtype=float)}
        return np.concatenate(
            [self._at(Z_new[s : s + chunk], L, L_B, hyper)[1] for s in range(0, len(Z_new), chunk)]
        )


FORMS: dict[str, type[LikelihoodForm]] = {f.name: f for f in (Woodbury, Dense, Sparse)}


def make_form(name: str, kernel: Kernel, cfg=None) -> LikelihoodForm:
    """The likelihood form registered as ``name``, for ``kernel`` (settings from a ModelConfig ``cfg``)."""
    try:
        form = FORMS[name]
    except KeyError:
        raise ValueError(f"likelihood form {name!r} is unknown; choose one of {sorted(FORMS)}") from None
    return form(kernel) if cfg is None else form.from_config(kernel, cfg)
