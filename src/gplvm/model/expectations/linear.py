"""Psi statistics of the linear kernel: second moments of q(z_n)."""

from __future__ import annotations

import pytensor.tensor as pt

from gplvm.model.expectations.base import Expectations
from gplvm.model.graph_ops import column_outer_sums
from gplvm.model.kernels.linear import Linear


class LinearExpectations(Expectations):
    """E[z_n^T u] = mu_n^T u, and sum_n E[z_n z_n^T] = sum_n (mu_n mu_n^T + diag S_n)."""

    kernel_type = Linear

    def psi_statistics(self, mean, variance, inducing, hyper):
        mean, variance, U = pt.as_tensor(mean), pt.as_tensor(variance), pt.as_tensor(inducing)
        psi0 = pt.sum(mean**2) + pt.sum(variance)
        second_moment = mean.T @ mean + pt.diag(pt.sum(variance, axis=0))  # sum_n E[z_n z_n^T]
        return psi0, mean @ U.T, U @ second_moment @ U.T

    def psi_statistics_by_row(self, mean, variance, inducing, hyper):
        mean, variance, U = pt.as_tensor(mean), pt.as_tensor(variance), pt.as_tensor(inducing)
        Psi1 = mean @ U.T
        # U E[z_n z_n^T] U^T = (U mu_n)(U mu_n)^T + U diag(S_n) U^T
        scaled = U[None, :, :] * pt.sqrt(variance)[:, None, :]  # (N, M, Q)
        Psi2 = Psi1[:, :, None] * Psi1[:, None, :] + scaled @ scaled.transpose(0, 2, 1)
        return pt.sum(mean**2, axis=1) + pt.sum(variance, axis=1), Psi1, Psi2

    def psi_statistics_by_column(self, mean, variance, inducing, hyper, observed):
        mean, variance, U = pt.as_tensor(mean), pt.as_tensor(variance), pt.as_tensor(inducing)
        mask_T = pt.as_tensor(observed.T.astype(float))
        psi0 = mask_T @ (pt.sum(mean**2, axis=1) + pt.sum(variance, axis=1))
        # sum over each column's rows of E[z_n z_n^T]: (D, Q, Q)
        second_moment = column_outer_sums(mean, observed) + (mask_T @ variance)[:, :, None] * pt.eye(
            mean.shape[1]
        )
        return psi0, mean @ U.T, U @ second_moment @ U.T
