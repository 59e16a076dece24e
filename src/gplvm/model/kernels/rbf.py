"""The squared-exponential (rbf) kernel: f(r^2) = exp(-r^2 / 2). Smooth to every order."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from gplvm.model.kernels.stationary import Stationary
from gplvm.model.psi_rows import rbf_cross


class RBF(Stationary):
    """Squared exponential: f(r^2) = exp(-r^2 / 2). Smooth to every order."""

    name = "rbf"

    def profile(self, r2):
        return np.exp(-0.5 * r2) if isinstance(r2, np.ndarray) else pt.exp(-0.5 * r2)

    def unbiased_cross(self, Z, Z_other, hyper):
        # One Op with a hand-written gradient (gplvm.model.psi_rows): as PyTensor operations the
        # squared distances, profile and their gradient were a dozen (N, M) passes.
        Z = pt.as_tensor(Z)
        ell2 = pt.as_tensor(hyper["lengthscale"]) ** 2 * pt.ones(Z.shape[1])
        return rbf_cross(Z, Z_other, ell2, hyper["variance"])
