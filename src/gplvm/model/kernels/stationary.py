"""Stationary kernels: k(z, z') = variance * f(r^2) + bias, with ARD length scales.

A stationary kernel only needs its profile f(r^2); its file then holds that and its name.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import pytensor.tensor as pt
from scipy.spatial.distance import cdist

from gplvm.model.graph_ops import is_fixed_zero
from gplvm.model.kernels.base import Kernel


class Stationary(Kernel):
    """k(z, z') = variance * f(r^2) + bias with r^2 = sum_q (z_q - z'_q)^2 / lengthscale_q^2."""

    hyperparameters = ("variance", "lengthscale", "bias")
    supports_ard = True
    stationary = True

    @abstractmethod
    def profile(self, r2):
        """f(r^2) with f(0) = 1; works on PyTensor tensors and NumPy arrays alike."""

    def _scaled_sq_dist(self, Z, Z_other, lengthscale):
        A, B = pt.as_tensor(Z) / lengthscale, pt.as_tensor(Z_other) / lengthscale
        sq = pt.sum(A**2, axis=1)[:, None] + pt.sum(B**2, axis=1)[None, :] - 2.0 * A @ B.T
        return pt.maximum(sq, 0.0)  # rounding can take it below 0

    def cross(self, Z, Z_other, hyper):
        K = self.unbiased_cross(Z, Z_other, hyper)
        # A bias fixed at 0 (the presets') is left out of the graph: it would cost an (N, M) pass.
        return K if is_fixed_zero(hyper["bias"]) else K + hyper["bias"]

    def unbiased_cross(self, Z, Z_other, hyper):
        """variance * f(r^2) between the rows of Z and Z_other, without the bias."""
        r2 = self._scaled_sq_dist(Z, Z_other, hyper["lengthscale"])
        return hyper["variance"] * self.profile(r2)

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
