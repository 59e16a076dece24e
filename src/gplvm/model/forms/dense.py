"""The dense form: eq. 1 by a Cholesky factorisation of the N x N matrix K, O(N^3), for every
kernel; the reference that the other forms are tested against. With missing cells, K is factorised
once per set of columns that miss the same rows.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky, solve_triangular
from scipy import linalg as sla

from gplvm.errors import NumericalError
from gplvm.model.constants import LOG_2PI
from gplvm.model.dense_ops import gaussian_columns_log_density
from gplvm.model.forms.base import LikelihoodForm, describe
from gplvm.model.kernels import Hyper


def dense_log_likelihood_from_K(K: pt.TensorLike, Y: pt.TensorLike) -> pt.TensorVariable:
    """Eq. 1 with its constant for a given covariance K (N x N), by its Cholesky factor, with eq. 3
    as its gradient (:mod:`gplvm.model.dense_ops`).

    Exposed so that tests can take PyTensor's gradient with respect to K itself (eq. 3).
    """
    return gaussian_columns_log_density(K, Y)


def cholesky_graph_log_likelihood(K: pt.TensorLike, Y: pt.TensorLike) -> pt.TensorVariable:
    """Eq. 1 as a plain PyTensor graph through the Cholesky factor: the reference that
    :func:`dense_log_likelihood_from_K` is tested against."""
    K, Y = pt.as_tensor(K), pt.as_tensor(Y)
    n_obs, n_features = Y.shape[0], Y.shape[1]
    L = cholesky(K, lower=True)
    logdet_K = 2.0 * pt.sum(pt.log(pt.diagonal(L)))
    A = solve_triangular(L, Y, lower=True)
    return -0.5 * n_features * logdet_K - 0.5 * pt.sum(A**2) - 0.5 * n_obs * n_features * LOG_2PI


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
