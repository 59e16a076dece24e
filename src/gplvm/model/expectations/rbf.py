"""Psi statistics of the rbf kernel: Gaussian integrals of products of Gaussians
(Titsias and Lawrence 2010).

Squared distances are expanded into matrix products, so nothing is (N, M, Q); the O(N M^2 Q) sum
of Psi2 is a compiled Op (:mod:`gplvm.model.psi_ops`) that forms no (N, M^2) temporary.
"""

from __future__ import annotations

import pytensor.tensor as pt

from gplvm.model.expectations.base import Expectations
from gplvm.model.graph_ops import is_fixed_zero
from gplvm.model.kernels.rbf import RBF
from gplvm.model.psi_rows import psi_rows


class RBFExpectations(Expectations):
    """Closed-form psi statistics of k = variance * exp(-r^2 / 2) + bias."""

    kernel_type = RBF

    def psi_statistics(self, mean, variance, inducing, hyper):
        # Deferred: its compiled loops load numba (1.3 s), which no other fit needs.
        from gplvm.model.psi_ops import coupling_sum

        psi1, log_e, w2, U, apart = self._psi_parts(mean, variance, inducing, hyper)
        s2, bias = hyper["variance"], hyper["bias"]
        Psi2 = coupling_sum(log_e, w2, U, -0.25 * apart)
        n_obs = psi1.shape[0]
        if is_fixed_zero(bias):  # the rbf presets: no (N, M) pass for a bias that is not there
            return n_obs * s2, psi1, Psi2
        column_sums = pt.sum(psi1, axis=0)
        Psi2 = Psi2 + bias * (column_sums[:, None] + column_sums[None, :]) + n_obs * bias**2
        return n_obs * (s2 + bias), psi1 + bias, Psi2

    def psi_statistics_by_row(self, mean, variance, inducing, hyper):
        psi1, log_e, w2, U, apart = self._psi_parts(mean, variance, inducing, hyper)
        s2, bias = hyper["variance"], hyper["bias"]
        n_rows, n_inducing = log_e.shape[0], U.shape[0]
        pairs = (U[:, None, :] * U[None, :, :]).reshape((n_inducing * n_inducing, U.shape[1]))
        # One exponential of each term's whole exponent (at most 2 log variance): see psi_ops.
        log_pairs = (log_e[:, :, None] + log_e[:, None, :]).reshape((n_rows, -1))
        rows = pt.exp(log_pairs - 0.5 * w2 @ pairs.T - 0.25 * apart.reshape((1, -1)))
        Psi2 = (
            rows.reshape((n_rows, n_inducing, n_inducing))
            + bias * (psi1[:, :, None] + psi1[:, None, :])
            + bias**2 * pt.ones((n_rows, 1, 1))
        )
        return (s2 + bias) * pt.ones(n_rows), psi1 + bias, Psi2

    def _psi_parts(self, mean, variance, inducing, hyper):
        """(psi1 without the bias (N, M), log e (N, M), w2 (N, Q), U, ||u - u'||^2 / l^2 (M, M)):
        the pieces of :meth:`psi_statistics` shared by its per-column version."""
        mean, S, U = pt.as_tensor(mean), pt.as_tensor(variance), pt.as_tensor(inducing)
        ell2 = pt.as_tensor(hyper["lengthscale"]) ** 2 * pt.ones(mean.shape[1])
        # psi1 = prod_q (1 + S/l^2)^-1/2 exp(-(mu - u)^2 / (2 (l^2 + S))), and Psi2 = sum_n prod_q
        # (1 + 2S/l^2)^-1/2 exp(-(u - u')^2 / (4 l^2) - (mu - (u + u')/2)^2 / (l^2 + 2S)). Expanding
        # (mu - (u+u')/2)^2, the terms in one of m, m' factor out as e_nm e_nm' and u u'/2 couples
        # them; psi1 and log e, the variance folded in, come from one Op (gplvm.model.psi_rows).
        psi1, log_e = psi_rows(mean, S, U, ell2, hyper["variance"])
        w2 = 1.0 / (ell2 + 2.0 * S)
        apart = pt.sum((U[:, None, :] - U[None, :, :]) ** 2 / ell2, axis=2)
        return psi1, log_e, w2, U, apart
