"""The squared-exponential (rbf) kernel: f(r^2) = exp(-r^2 / 2). Smooth to every order."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from gplvm.model.kernels.stationary import Stationary


class RBF(Stationary):
    """Squared exponential: f(r^2) = exp(-r^2 / 2). Smooth to every order."""

    name = "rbf"

    def profile(self, r2):
        return np.exp(-0.5 * r2) if isinstance(r2, np.ndarray) else pt.exp(-0.5 * r2)
