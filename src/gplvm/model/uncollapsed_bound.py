"""The uncollapsed sparse variational bound: a sum over rows, so minibatches estimate it.

With inducing outputs u_d ~ N(0, K_uu) per column and q(u_d) = N(m_d, S) (S shared by the
columns), q(z_n) = N(mu_n, diag s_n) per row, and the psi statistics of row n under q(z_n),

    F = sum_n [ r_n - KL(q(z_n) || p(z_n)) ] - sum_d KL(q(u_d) || p(u_d)),

r_n = sum_d E[log N(y_nd | f_nd, noise)] under q(z_n) and q(u) (:func:`row_terms` sums them).
The row terms need only row n, so (N / B) times the sum over a uniformly drawn batch of B rows,
minus the KL of q(u), is an unbiased estimate of F (Hensman, Fusi and Lawrence 2013). At the
optimal q(u) for given q(Z) the bound equals Titsias's collapsed bound (see
:func:`optimal_q_u`), which is how the two are checked against each other.
"""

from __future__ import annotations

import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky, solve, solve_triangular

from gplvm.model.constants import LOG_2PI


def row_terms(psi0, Psi1, Psi2, Y, q_u_mean, q_u_chol, Kuu, noise) -> pt.TensorVariable:
    """The rows' expected log likelihoods summed over the rows and columns (a scalar).

    ``psi0`` and ``Psi2`` (M, M) are the psi statistics summed over the B rows, ``Psi1`` (B, M)
    per row, ``Y`` (B, D) their data, ``q_u_mean`` (M, D) the columns' q(u) means and ``q_u_chol``
    (M, M) the lower Cholesky factor of their shared covariance S. Each row n contributes::

        -D/2 log(2 pi noise) - 1/(2 noise) [ ||y_n||^2 - 2 y_n^T W^T psi1_n + tr(W^T Psi2_n W)
                                              + D tr(A S A Psi2_n) + D (psi0_n - tr(A Psi2_n)) ]

    with A = K_uu^-1 and W = A q_u_mean; the last term is E[k_nn - k_nu A k_un], what u leaves
    uncertain in f. Every term is linear in the row's psi0_n and Psi2_n, so their sums suffice:
    no B x M x M array is formed.
    """
    Psi1, Psi2, Y = pt.as_tensor(Psi1), pt.as_tensor(Psi2), pt.as_tensor(Y)
    n_rows, n_features = Y.shape[0], Y.shape[1]
    W = solve(Kuu, q_u_mean, assume_a="pos")  # (M, D)
    A_L = solve(Kuu, q_u_chol, assume_a="pos")  # A L, so A S A = (A L)(A L)^T
    A = solve(Kuu, pt.eye(Kuu.shape[0]), assume_a="pos")
    quadratic = pt.sum(Y**2) - 2.0 * pt.sum(Y * (Psi1 @ W)) + pt.sum(W * (Psi2 @ W))
    spread = pt.sum(Psi2 * (A_L @ A_L.T)) + psi0 - pt.sum(Psi2 * A)
    return (
        -0.5 * n_rows * n_features * (LOG_2PI + pt.log(noise))
        - 0.5 * (quadratic + n_features * spread) / noise
    )


def q_u_kl(q_u_mean, q_u_chol, Kuu) -> pt.TensorVariable:
    """sum_d KL(N(m_d, S) || N(0, K_uu)) with S = L L^T shared by the D columns."""
    q_u_mean, q_u_chol = pt.as_tensor(q_u_mean), pt.as_tensor(q_u_chol)
    n_inducing, n_features = q_u_mean.shape[0], q_u_mean.shape[1]
    L_K = cholesky(Kuu, lower=True)
    scaled_chol = solve_triangular(L_K, q_u_chol, lower=True)
    scaled_mean = solve_triangular(L_K, q_u_mean, lower=True)
    log_det_K = 2.0 * pt.sum(pt.log(pt.diagonal(L_K)))
    log_det_S = 2.0 * pt.sum(pt.log(pt.abs(pt.diagonal(q_u_chol))))
    return 0.5 * (
        n_features * pt.sum(scaled_chol**2)
        + pt.sum(scaled_mean**2)
        - n_features * n_inducing
        + n_features * (log_det_K - log_det_S)
    )


def optimal_q_u(Psi1_Y, Psi2_sum, Kuu, noise) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """q(u)'s optimum for given q(Z): with Sigma = K_uu + Psi2 / noise (Psi2 summed over rows),
    S = K_uu Sigma^-1 K_uu and m = K_uu Sigma^-1 Psi1^T Y / noise. Returns (m, chol(S))."""
    Sigma = Kuu + Psi2_sum / noise
    S = Kuu @ solve(Sigma, Kuu, assume_a="pos")
    mean = Kuu @ solve(Sigma, Psi1_Y, assume_a="pos") / noise
    return mean, cholesky(0.5 * (S + S.T), lower=True)
