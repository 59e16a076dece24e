"""Psi statistics of the rbf kernel: Gaussian integrals of products of Gaussians
(Titsias and Lawrence 2010).

Squared distances are expanded into matrix products, so nothing is (N, M, Q); the O(N M^2 Q) sum
of Psi2 is a compiled Op (:mod:`gplvm.model.psi_ops`) that forms no (N, M^2) temporary.
"""

from __future__ import annotations

import pytensor.tensor as pt

from gplvm.model.expectations.base import Expectations
from gplvm.model.kernels.rbf import RBF


class RBFExpectations(Expectations):
    """Closed-form psi statistics of k = variance * exp(-r^2 / 2) + bias."""

    kernel_type = RBF

    def psi_statistics(self, mean, variance, inducing, hyper):
        # Deferred: its compiled loops load numba (1.3 s), which no other fit needs.
        from gplvm.model.psi_ops import coupling_sum

        psi1_unit, log_e, w2, U, apart = self._psi_parts(mean, variance, inducing, hyper)
        s2, bias = hyper["variance"], hyper["bias"]
        psi2_unit = coupling_sum(log_e, w2, U, -0.25 * apart)
        column_sums = pt.sum(psi1_unit, axis=0)
        n_obs = psi1_unit.shape[0]
        psi0 = n_obs * (s2 + bias)
        Psi1 = s2 * psi1_unit + bias
        Psi2 = s2**2 * psi2_unit + s2 * bias * (column_sums[:, None] + column_sums[None, :]) + n_obs * bias**2
        return psi0, Psi1, Psi2

    def psi_statistics_by_row(self, mean, variance, inducing, hyper):
        psi1_unit, log_e, w2, U, apart = self._psi_parts(mean, variance, inducing, hyper)
        s2, bias = hyper["variance"], hyper["bias"]
        n_rows, n_inducing = log_e.shape[0], U.shape[0]
        pairs = (U[:, None, :] * U[None, :, :]).reshape((n_inducing * n_inducing, U.shape[1]))
        # One exponential of each term's whole exponent (at most 0): see gplvm.model.psi_ops.
        log_pairs = (log_e[:, :, None] + log_e[:, None, :]).reshape((n_rows, -1))
        rows = pt.exp(log_pairs - 0.5 * w2 @ pairs.T - 0.25 * apart.reshape((1, -1)))
        psi2_unit = rows.reshape((n_rows, n_inducing, n_inducing))
        psi0 = (s2 + bias) * pt.ones(n_rows)
        Psi2 = (
            s2**2 * psi2_unit
            + s2 * bias * (psi1_unit[:, :, None] + psi1_unit[:, None, :])
            + bias**2 * pt.ones((n_rows, 1, 1))
        )
        return psi0, s2 * psi1_unit + bias, Psi2

    def _psi_parts(self, mean, variance, inducing, hyper):
        """(psi1 without variance and bias (N, M), log e (N, M), w2 (N, Q), U, ||u - u'||^2 / l^2 (M, M)):
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
        # factor out as e_nm e_nm', the last couples them; e is kept as its log.
        w2 = 1.0 / (ell2 + 2.0 * S)
        log_scale2 = -0.5 * pt.sum(pt.log1p(2.0 * S / ell2), axis=1)
        half_row = 0.5 * (log_scale2 - pt.sum(mean**2 * w2, axis=1))
        log_e = half_row[:, None] + (mean * w2) @ U.T - 0.25 * w2 @ (U**2).T  # (N, M)
        apart = pt.sum((U[:, None, :] - U[None, :, :]) ** 2 / ell2, axis=2)
        return psi1_unit, log_e, w2, U, apart
