"""The linear kernel k(z, z') = z^T z': dual probabilistic PCA, with its optimum in closed form."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from gplvm.model.analytic import analytic_optimum
from gplvm.model.kernels.base import Kernel


class Linear(Kernel):
    """k(z, z') = z^T z': dual probabilistic PCA, whose optimum is known in closed form."""

    name = "linear"
    has_analytic_optimum = True

    def cross(self, Z, Z_other, hyper):
        return pt.as_tensor(Z) @ pt.as_tensor(Z_other).T

    def diagonal(self, Z, hyper):
        return pt.sum(pt.as_tensor(Z) ** 2, axis=1)

    def cross_np(self, Z, Z_other, hyper):
        return Z @ Z_other.T

    def diag_np(self, Z, hyper):
        return np.sum(Z**2, axis=1)

    def analytic_optimum(self, Y, latent_dim, beta, prior_scale):
        return analytic_optimum(Y, latent_dim, beta, prior_scale)
