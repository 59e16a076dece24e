"""The Matérn 5/2 kernel: f(r) = (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r). Twice differentiable."""

from __future__ import annotations

import math

import numpy as np
import pytensor.tensor as pt

from gplvm.model.kernels.stationary import Stationary

SQRT5 = math.sqrt(5.0)
# sqrt has an infinite slope at 0; r^2 is floored here so that its gradient at the diagonal is 0.
_R2_FLOOR = 1e-36


class Matern52(Stationary):
    """Matérn 5/2: f(r) = (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r). Twice differentiable."""

    name = "matern52"

    def profile(self, r2):
        if isinstance(r2, np.ndarray):
            r = np.sqrt(r2)
            return (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * np.exp(-SQRT5 * r)
        r = pt.sqrt(pt.maximum(r2, _R2_FLOOR))
        return (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * pt.exp(-SQRT5 * r)
