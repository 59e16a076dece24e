"""The informative latent prior (``latent_prior=informative``): per-row means from covariates.

Latent dim p (p < P, one per covariate column) of row n is centred on that row's covariate:

    z_np ~ N(s c_np, r^2),    c_np = (t_np - mean_p) / sd_p,

with s the prior scale of Z and r the spread, fixed or learned; the other dims keep the iid
N(0, s^2). Rows are independent. This is the pseudotime use of a GPLVM: a 1-D latent anchored
to each cell's capture time, free to reorder cells within and across captures as the data ask.
A tied latent reads back in the covariate's units as mean_p + sd_p z_np / s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt

from gplvm.config import InformativeLatentPriorConfig, PriorConfig
from gplvm.model.constants import LOG_2PI
from gplvm.model.latent_priors.base import QMoments, StructuredPrior, standardised_columns

SPREAD = "latent_spread"  # r's name in the model and the posterior


@dataclass(frozen=True)
class InformativePrior(StructuredPrior):
    """Independent Gaussian rows whose first P latent dims are centred on the covariates.

    Attributes
    ----------
    means : ndarray, shape (N, Q)
        The prior means: s c_np in the tied dims, 0 in the others.
    tied : ndarray of bool, shape (Q,)
        Which latent dims are tied to a covariate.
    prior_scale : float
        s, the sd of the untied dims (and the scale of the tied means).
    spread : float
        r, fixed or the start of the learned one.
    learn_spread : bool
        Whether r is a free parameter with ``spread_prior``.
    spread_prior : PriorConfig
        Its prior.
    input_names : tuple of str
        The covariate columns, in the order of the tied dims.
    input_offset, input_scale : ndarray, shape (P,)
        Their means and sds (a tied latent in the covariate's units: offset + scale z / s).
    """

    means: np.ndarray
    tied: np.ndarray
    prior_scale: float
    spread: float
    learn_spread: bool
    spread_prior: PriorConfig
    input_names: tuple[str, ...]
    input_offset: np.ndarray
    input_scale: np.ndarray

    name: ClassVar[str] = "informative"
    parameter: ClassVar[str] = SPREAD
    q_parameters: ClassVar[dict[str, str]] = {"Z_mean": "real", "Z_var": "positive"}
    q_family: ClassVar[str] = "q(Z) = prod_n N(Z_mean[n], diag Z_var[n])"

    @classmethod
    def from_config(
        cls,
        cfg: InformativeLatentPriorConfig,
        covariates: dict[str, np.ndarray],
        prior_scale: float,
        latent_dim: int,
    ) -> InformativePrior:
        """The prior for the rows whose ``covariates`` (columns as text, by name) are given."""
        centred, offset, scale = standardised_columns(cfg.inputs, covariates)
        means = np.zeros((len(centred), latent_dim))
        means[:, : centred.shape[1]] = prior_scale * centred
        tied = np.arange(latent_dim) < centred.shape[1]
        return cls(
            means=means,
            tied=tied,
            prior_scale=prior_scale,
            spread=cfg.spread,
            learn_spread=cfg.learn_spread,
            spread_prior=cfg.spread_prior,
            input_names=tuple(cfg.inputs),
            input_offset=offset,
            input_scale=scale,
        )

    @property
    def start(self) -> float:
        return self.spread

    @property
    def learn(self) -> bool:
        return self.learn_spread

    @property
    def parameter_prior(self) -> PriorConfig:
        return self.spread_prior

    def _sd(self, theta):
        """The prior sd of each latent dim, shape (Q,): r where tied, s elsewhere."""
        return pt.switch(self.tied, theta, self.prior_scale)

    def _sd_np(self, theta: float) -> np.ndarray:
        return np.where(self.tied, theta, self.prior_scale)

    def log_density(self, Z: pt.TensorLike, theta: pt.TensorLike) -> pt.TensorVariable:
        sd = self._sd(theta)
        Z = pt.as_tensor(Z)
        n = Z.shape[0]
        return -0.5 * pt.sum(((Z - self.means) / sd) ** 2) - n * pt.sum(pt.log(sd)) - 0.5 * Z.size * LOG_2PI

    def log_density_np(self, Z: np.ndarray, theta: float) -> float:
        sd = self._sd_np(theta)
        return float(
            -0.5 * np.sum(((Z - self.means) / sd) ** 2) - len(Z) * np.sum(np.log(sd)) - 0.5 * Z.size * LOG_2PI
        )

    def noncentred(self, V: pt.TensorLike, theta: pt.TensorLike) -> pt.TensorVariable:
        return self.means + self._sd(theta) * V

    def whiten(self, Z: np.ndarray, theta: float) -> np.ndarray:
        return (Z - self.means) / self._sd_np(theta)

    def starting_latents(self, Z0: np.ndarray) -> np.ndarray:
        """The start's columns reordered so that each tied dim holds the column that tracks its
        covariate best, mapped onto the covariate's scale by least squares.

        Starting a tied dim at the covariate itself would put every row of one capture at one
        point, and lose the order within captures that the start already has.
        """
        Z0 = np.array(Z0, dtype=float)
        free = list(range(Z0.shape[1]))
        out = np.empty_like(Z0)
        for p in np.flatnonzero(self.tied):
            target = self.means[:, p]
            fit = {k: np.polyfit(Z0[:, k], target, 1) for k in free}
            best = max(free, key=lambda k: abs(np.corrcoef(Z0[:, k], target)[0, 1]))
            out[:, p] = np.polyval(fit[best], Z0[:, best])
            free.remove(best)
        out[:, ~self.tied] = Z0[:, free]
        return out

    def q_moments(self, q, theta, latent_dim):
        mean, variance = q["Z_mean"], q["Z_var"]
        ratio = variance / self._sd(theta) ** 2
        kl = 0.5 * pt.sum(ratio + ((mean - self.means) / self._sd(theta)) ** 2 - 1.0 - pt.log(ratio))
        return mean, variance, kl

    def q_start(self, Z0: np.ndarray, variances: np.ndarray, theta: float) -> dict[str, np.ndarray]:
        return {"Z_mean": Z0, "Z_var": variances}

    def q_at(self, point: dict[str, np.ndarray], theta: float) -> QMoments:
        return QMoments(point["Z_mean"], point["Z_var"])

    def record(self, theta: float) -> dict:
        return {
            "name": self.name,
            "inputs": list(self.input_names),
            "spread": theta,
            "spread_learned": self.learn_spread,
            "input_mean": self.input_offset.tolist(),
            "input_sd": self.input_scale.tolist(),
        }
