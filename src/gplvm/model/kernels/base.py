"""The kernel interface: a covariance function k(Z, Z') over latent positions, in PyTensor and NumPy.

Every kernel gives k(Z, Z') without the noise term; :meth:`Kernel.K` adds
``beta^-1 + jitter * scale`` to the diagonal, where ``scale`` is the kernel's own prior variance
(0 for the linear kernel, ``variance + bias`` for stationary ones).

Why jitter: a stationary kernel matrix of N points is numerically low-rank (its eigenvalues decay
very fast), so when beta^-1 falls below about 1e-16 * N * variance the Cholesky factorisation of K
fails in floating point although K is positive definite in exact arithmetic. Jitter relative to
the kernel's scale does not depend on the data's units and acts as a floor on the noise variance.
The linear kernel needs none: beta^-1 > 0 keeps K positive definite, and the woodbury form never
factorises K.

A concrete subclass (one with a ``name``) registers itself in :data:`KERNELS` when its module is
imported; :mod:`gplvm.model.kernels` imports every module of its folder.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt
from scipy.linalg import solve_triangular

Hyper = Mapping[str, object]  # beta and the kernel's own hyperparameters: numbers, arrays or tensors

KERNELS: dict[str, type[Kernel]] = {}


def conditional_variance(prior: np.ndarray, cross: np.ndarray, L: np.ndarray) -> np.ndarray:
    """k(z*, z*) - k(z*, Z) K^-1 k(Z, z*) for each row of ``cross`` = k(Z*, Z), with L L^T = K.

    Floored at 0: rounding can take it slightly below.
    """
    A = solve_triangular(L, cross.T, lower=True)
    return np.maximum(prior - np.sum(A**2, axis=0), 0.0)


class Kernel(ABC):
    """A covariance function k(z, z') over latent positions.

    Parameters
    ----------
    ard : bool
        One length scale per latent dim (kernels with ``supports_ard`` only).
    jitter : float
        Relative diagonal jitter, multiplied by :meth:`jitter_scale`.
    """

    name: ClassVar[str]
    hyperparameters: ClassVar[tuple[str, ...]] = ()  # the kernel's own, besides beta
    supports_ard: ClassVar[bool] = False
    # Stationary kernels forget the data far from it: their predictive variance is worth drawing.
    stationary: ClassVar[bool] = False
    has_analytic_optimum: ClassVar[bool] = False  # see analytic_optimum

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:  # a concrete kernel; abstract families (Stationary) have none
            KERNELS[cls.name] = cls

    def __init__(self, ard: bool = False, jitter: float = 0.0) -> None:
        if ard and not self.supports_ard:
            raise ValueError(f"the {self.name} kernel has no ARD form")
        self.ard = ard
        self.jitter = jitter

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ard={self.ard}, jitter={self.jitter:g})"

    # ------------------------------------------------------------ PyTensor

    @abstractmethod
    def cross(self, Z: pt.TensorLike, Z_other: pt.TensorLike, hyper: Hyper) -> pt.TensorVariable:
        """k(Z, Z_other), shape (N, M), as a PyTensor graph."""

    @abstractmethod
    def diagonal(self, Z: pt.TensorLike, hyper: Hyper) -> pt.TensorVariable:
        """k(z_n, z_n) for every row, shape (N,), as a PyTensor graph."""

    def covariance(self, Z: pt.TensorLike, hyper: Hyper) -> pt.TensorVariable:
        """k(Z, Z), shape (N, N), without the noise term."""
        return self.cross(Z, Z, hyper)

    def K(self, Z: pt.TensorLike, hyper: Hyper) -> pt.TensorVariable:
        """K = k(Z, Z) + noise I, the covariance of every column of Y."""
        Z = pt.as_tensor(Z)
        return self.covariance(Z, hyper) + self.noise_variance(hyper) * pt.eye(Z.shape[0])

    # ------------------------------------------------------------ NumPy

    @abstractmethod
    def cross_np(self, Z: np.ndarray, Z_other: np.ndarray, hyper: Hyper) -> np.ndarray:
        """k(Z, Z_other) in NumPy."""

    @abstractmethod
    def diag_np(self, Z: np.ndarray, hyper: Hyper) -> np.ndarray:
        """k(z_n, z_n) for every row, shape (N,)."""

    def covariance_np(self, Z: np.ndarray, hyper: Hyper) -> np.ndarray:
        """k(Z, Z) in NumPy."""
        return self.cross_np(Z, Z, hyper)

    def K_np(self, Z: np.ndarray, hyper: Hyper) -> np.ndarray:
        """K = k(Z, Z) + noise I in NumPy (N x N)."""
        return self.covariance_np(Z, hyper) + self.noise_variance(hyper) * np.eye(len(Z))

    def jitter_scale(self, hyper: Hyper):
        """What ``jitter`` is relative to; 0 for kernels that need none."""
        return 0.0

    def noise_variance(self, hyper: Hyper):
        """What is added to the diagonal: beta^-1 + jitter * :meth:`jitter_scale`."""
        return 1.0 / hyper["beta"] + self.jitter * self.jitter_scale(hyper)

    def relevance(self, hyper: Hyper) -> np.ndarray | None:
        """Per latent dim, how fast k changes along it (GPy's ``input_sensitivity``); None without ARD."""
        return None

    def predictive_variance(
        self, Z_new: np.ndarray, Z: np.ndarray, hyper: Hyper, chunk: int = 2048
    ) -> np.ndarray:
        """Variance of the latent function f at ``Z_new`` given f at the training latents Z.

        var(z*) = k(z*, z*) - k(z*, Z) K^-1 k(Z, z*): near the data it falls towards the noise
        level, far from it (for stationary kernels) it returns to the prior variance. It is the
        same for every output dimension. Rows are processed ``chunk`` at a time, so memory stays
        O(chunk N).
        """
        L = np.linalg.cholesky(self.K_np(Z, hyper))
        out = np.empty(len(Z_new))
        for start in range(0, len(Z_new), chunk):
            rows = Z_new[start : start + chunk]
            out[start : start + chunk] = conditional_variance(
                self.diag_np(rows, hyper), self.cross_np(rows, Z, hyper), L
            )
        return out

    def analytic_optimum(self, Y: np.ndarray, latent_dim: int, beta: float, prior_scale: float):
        """The closed-form MAP of Z for this kernel, or None when there is none."""
        return None


def make_kernel(name: str, ard: bool = False, jitter: float = 0.0) -> Kernel:
    """The kernel registered as ``name``."""
    try:
        return KERNELS[name](ard=ard, jitter=jitter)
    except KeyError:
        raise ValueError(f"kernel {name!r} is unknown; choose one of {', '.join(sorted(KERNELS))}") from None
