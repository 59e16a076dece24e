"""The GP latent prior (``latent_prior=gp``): each latent dim an independent GP over covariates.

For inputs t_n (covariate columns of the data file, each standardised to unit sd) every latent
dim q has z_q ~ N(0, K_t) with

    K_t = s^2 ((1 - w) k(t, t') M + w I),

k a unit-variance rbf or Matern 5/2 kernel with one length scale, M the 0/1 matrix of rows in the
same ``group`` (all ones without a group: one sequence), s the prior scale of Z and w the white
share. The log density sums over the Q dims through one Cholesky factor of K_t, O(N^3) per
evaluation: exact up to ``max_rows`` rows. With M = I (every row its own group) K_t = s^2 I, the
iid prior.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky, solve_triangular

from gplvm.config import GPLatentPriorConfig, PriorConfig
from gplvm.errors import ConfigError, DataError
from gplvm.model.constants import LOG_2PI
from gplvm.model.kernels import Kernel, make_kernel
from gplvm.model.latent_priors.base import QMoments, StructuredPrior, standardised_columns

# Added to K_t's diagonal, relative to s^2, so that white = 0 with repeated inputs still factorises.
PRIOR_JITTER = 1e-8
LENGTHSCALE = "latent_lengthscale"  # the learned length scale's name in the model and the posterior
MUBAR, LAMBDA = "Z_mubar", "Z_lambda"  # q's free parameters under the GP prior (variational)


@dataclass(frozen=True)
class GPLatentPrior(StructuredPrior):
    """The GP prior over Z's rows, for one data set's inputs.

    Attributes
    ----------
    inputs : ndarray, shape (N, P)
        The covariates, each column standardised to unit sd.
    same_group : ndarray of bool, shape (N, N), or None
        Which rows share a sequence (None: all do).
    kernel : Kernel
        The unit-variance kernel over the inputs.
    white, prior_scale : float
        w and s above.
    lengthscale : float
        The fixed length scale, or the start of the learned one.
    learn_lengthscale : bool
        Whether the length scale is a free parameter with ``lengthscale_prior``.
    lengthscale_prior : PriorConfig
        Its prior.
    input_offset, input_scale : ndarray, shape (P,)
        How the raw inputs were standardised (new inputs are standardised the same way).
    groups : ndarray or None
        Each row's group, when there are groups.
    input_names, group_name, kernel_name
        The configured column names and kernel, for the record.
    """

    inputs: np.ndarray
    same_group: np.ndarray | None
    kernel: Kernel
    white: float
    prior_scale: float
    lengthscale: float
    learn_lengthscale: bool
    lengthscale_prior: PriorConfig
    input_offset: np.ndarray | None = None
    input_scale: np.ndarray | None = None
    groups: np.ndarray | None = None
    input_names: tuple[str, ...] = ()
    group_name: str | None = None
    kernel_name: str = "rbf"

    name: ClassVar[str] = "gp"
    parameter: ClassVar[str] = LENGTHSCALE
    q_parameters: ClassVar[dict[str, str]] = {MUBAR: "real", LAMBDA: "positive"}
    q_family: ClassVar[str] = (
        "q(z_q) = N(K_t Z_mubar[:, q], (K_t^-1 + diag Z_lambda[:, q])^-1); Z_var its diagonal"
    )

    @classmethod
    def from_config(
        cls, cfg: GPLatentPriorConfig, covariates: dict[str, np.ndarray], prior_scale: float
    ) -> GPLatentPrior:
        """The prior over the rows whose ``covariates`` (columns as text, by name) are given, or a
        one-line error for unusable inputs."""
        n_obs = len(covariates[cfg.inputs[0]])
        if n_obs > cfg.max_rows and cfg.approximation is None:
            raise ConfigError(
                f"latent_prior=gp on {n_obs} rows is above latent_prior.max_rows={cfg.max_rows}: the"
                " exact prior factorises an N x N matrix at every step; choose"
                " latent_prior.approximation=hsgp (one input), use fewer rows (dataset.max_obs)"
                " or raise latent_prior.max_rows"
            )
        inputs, offset, spread = standardised_columns(cfg.inputs, covariates)
        same_group = groups = None
        if cfg.group is not None:
            groups = covariates[cfg.group]
            if cfg.approximation is None:  # N x N: the approximation never forms it
                same_group = groups[:, None] == groups[None, :]
        if cfg.white == 0:
            _refuse_repeated_inputs(inputs, groups, cfg)
        return cls(
            inputs=inputs,
            same_group=same_group,
            kernel=make_kernel(cfg.kernel),
            white=cfg.white,
            prior_scale=prior_scale,
            lengthscale=cfg.lengthscale,
            learn_lengthscale=cfg.learn_lengthscale,
            lengthscale_prior=cfg.lengthscale_prior,
            input_offset=offset,
            input_scale=spread,
            groups=groups,
            input_names=tuple(cfg.inputs),
            group_name=cfg.group,
            kernel_name=cfg.kernel,
        )

    # ------------------------------------------------------------ StructuredPrior

    @property
    def start(self) -> float:
        return self.lengthscale

    @property
    def learn(self) -> bool:
        return self.learn_lengthscale

    @property
    def parameter_prior(self) -> PriorConfig:
        return self.lengthscale_prior

    def noncentred(self, V: pt.TensorLike, theta: pt.TensorLike) -> pt.TensorVariable:
        return self.factor(theta) @ V

    def q_moments(self, q, theta, latent_dim):
        return vgpds_q(self.covariance(theta), q[MUBAR], q[LAMBDA], latent_dim)

    def q_start(self, Z0: np.ndarray, variances: np.ndarray, theta: float) -> dict[str, np.ndarray]:
        # the same means, K mubar = Z0; Lam^-1 as the variances where Lam dominates K^-1
        return {MUBAR: np.linalg.solve(self.covariance_np(theta), Z0), LAMBDA: 1.0 / variances}

    def q_at(self, point: dict[str, np.ndarray], theta: float) -> QMoments:
        mean, covariances = vgpds_q_np(self.covariance_np(theta), point[MUBAR], point[LAMBDA])
        variance = np.stack([np.diag(S) for S in covariances], axis=1)
        return QMoments(mean, variance, covariances)

    def record(self, theta: float) -> dict:
        return {
            "name": self.name,
            "inputs": list(self.input_names),
            "group": self.group_name,
            "kernel": self.kernel_name,
            "white": self.white,
            "lengthscale": theta,
            "lengthscale_learned": self.learn_lengthscale,
        }

    # ------------------------------------------------------------ the GP itself

    def _hyper(self, lengthscale) -> dict:
        return {"variance": 1.0, "lengthscale": lengthscale, "bias": 0.0}

    def covariance(self, lengthscale: pt.TensorLike) -> pt.TensorVariable:
        """K_t as a PyTensor graph of the length scale."""
        k = self.kernel.cross(self.inputs, self.inputs, self._hyper(lengthscale))
        if self.same_group is not None:
            k = k * self.same_group
        n = len(self.inputs)
        diagonal = self.white + PRIOR_JITTER
        return self.prior_scale**2 * ((1.0 - self.white) * k + diagonal * pt.eye(n))

    def covariance_np(self, lengthscale: float) -> np.ndarray:
        """K_t in NumPy."""
        k = self.kernel.cross_np(self.inputs, self.inputs, self._hyper(lengthscale))
        if self.same_group is not None:
            k = k * self.same_group
        diagonal = self.white + PRIOR_JITTER
        return self.prior_scale**2 * ((1.0 - self.white) * k + diagonal * np.eye(len(self.inputs)))

    def factor(self, lengthscale: pt.TensorLike) -> pt.TensorVariable:
        """L_t, the lower Cholesky factor of K_t."""
        return cholesky(self.covariance(lengthscale), lower=True)

    def whiten(self, Z: np.ndarray, lengthscale: float) -> np.ndarray:
        """V = L_t^-1 Z: the non-centred coordinates of latents ``Z``."""
        return np.linalg.solve(np.linalg.cholesky(self.covariance_np(lengthscale)), Z)

    def log_density(self, Z: pt.TensorLike, lengthscale: pt.TensorLike) -> pt.TensorVariable:
        """sum_q log N(Z[:, q] | 0, K_t), through one Cholesky factor of K_t."""
        Z = pt.as_tensor(Z)
        L = self.factor(lengthscale)
        A = solve_triangular(L, Z, lower=True)
        n, q = Z.shape[0], Z.shape[1]
        return -q * pt.sum(pt.log(pt.diag(L))) - 0.5 * pt.sum(A**2) - 0.5 * n * q * LOG_2PI

    def conditional(
        self, Z: np.ndarray, lengthscale: float, new_inputs: np.ndarray, new_groups: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The GP conditional of the latents at new raw inputs (n*, P) given the rows' ``Z``: mean
        (n*, Q) and variance (n*,), the same for every dim. Rows of a group the training rows do not
        have fall back to the prior."""
        t_new = (np.atleast_2d(np.asarray(new_inputs, dtype=float)) - self.input_offset) / self.input_scale
        cross = self.kernel.cross_np(t_new, self.inputs, self._hyper(lengthscale))
        if self.groups is not None:
            if new_groups is None:
                raise ValueError("this prior has groups: give each new row its group")
            cross = cross * (np.asarray(new_groups, dtype=str)[:, None] == self.groups[None, :])
        cross = self.prior_scale**2 * (1.0 - self.white) * cross
        L = np.linalg.cholesky(self.covariance_np(lengthscale))
        A = np.linalg.solve(L, cross.T)  # L^-1 k(t, t*)
        mean = A.T @ np.linalg.solve(L, Z)
        prior_variance = self.prior_scale**2 * (1.0 + PRIOR_JITTER)
        return mean, np.maximum(prior_variance - np.sum(A**2, axis=0), 0.0)

    def log_density_np(self, Z: np.ndarray, lengthscale: float) -> float:
        """The same in NumPy."""
        L = np.linalg.cholesky(self.covariance_np(lengthscale))
        A = np.linalg.solve(L, Z)
        n, q = Z.shape
        return float(-q * np.sum(np.log(np.diag(L))) - 0.5 * np.sum(A**2) - 0.5 * n * q * LOG_2PI)


def vgpds_q(
    K: pt.TensorLike, mubar: pt.TensorLike, lam: pt.TensorLike, latent_dim: int
) -> tuple[pt.TensorVariable, pt.TensorVariable, pt.TensorVariable]:
    """q(Z) of the GP prior's Bayesian GPLVM (the VGPDS parameterisation), per latent dim q:

        q(z_q) = N(K mubar_q, S_q),  S_q = (K^-1 + diag lam_q)^-1,

    returned as the means (N, Q), the marginal variances diag S_q (N, Q) and the summed
    KL(q || N(0, K)) = 1/2 sum_q [tr B_q^-1 + mubar_q^T K mubar_q - N + log |B_q|], with
    B_q = I + Lam_q^1/2 K Lam_q^1/2: one N x N Cholesky factor per dim, nothing inverted.
    """
    K, mubar, lam = pt.as_tensor(K), pt.as_tensor(mubar), pt.as_tensor(lam)
    n = K.shape[0]
    identity = pt.eye(n)
    variances, kl = [], 0.0
    for q in range(latent_dim):
        root = pt.sqrt(lam[:, q])
        scaled = root[:, None] * K
        L_B = cholesky(identity + scaled * root[None, :], lower=True)
        A = solve_triangular(L_B, scaled, lower=True)  # L_B^-1 Lam^1/2 K
        variances.append(pt.diag(K) - pt.sum(A**2, axis=0))
        trace = pt.sum(solve_triangular(L_B, identity, lower=True) ** 2)
        quadratic = pt.dot(mubar[:, q], K @ mubar[:, q])
        kl = kl + 0.5 * (trace + quadratic - n + 2.0 * pt.sum(pt.log(pt.diag(L_B))))
    return K @ mubar, pt.stack(variances, axis=1), kl


def vgpds_q_np(K: np.ndarray, mubar: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The means (N, Q) and the full covariances S_q of :func:`vgpds_q`, in NumPy."""
    K_inv = np.linalg.inv(K)
    return K @ mubar, [np.linalg.inv(K_inv + np.diag(lam[:, q])) for q in range(mubar.shape[1])]


def _refuse_repeated_inputs(inputs: np.ndarray, groups: np.ndarray | None, cfg: GPLatentPriorConfig) -> None:
    """With no white share, two rows at the same input (in one sequence) must have the same latent:
    a singular prior that only the jitter keeps factorisable. One line naming the first pair."""
    keys = [tuple(row) for row in inputs]
    seen: dict = {}
    for i, key in enumerate(keys):
        where = (groups[i] if groups is not None else None, key)
        if where in seen:
            raise DataError(
                f"rows {seen[where]} and {i} (counting from 0) have the same {', '.join(cfg.inputs)}"
                + (f" in {cfg.group} {groups[i]!r}" if groups is not None else "")
                + ": with latent_prior.white=0 their latents would have to be equal;"
                " set latent_prior.white > 0 (e.g. 0.01) or drop repeated rows"
            )
        seen[where] = i
