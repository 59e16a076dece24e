"""Expectations of a kernel under a Gaussian q(Z): the psi statistics of the Bayesian GPLVM.

For each row n, with q(z_n) = N(mu_n, diag S_n): psi0 = sum_n E[k(z_n, z_n)],
Psi1[n, m] = E[k(z_n, u_m)] and Psi2 = sum_n E[k(U, z_n) k(z_n, U)]. With S = 0 they reduce to
tr K_nn, K_nu and K_un K_nu, which every kernel gives; in closed form for any S only some do.

A subclass names its kernel class in ``kernel_type`` and registers itself when its module is
imported; :mod:`gplvm.model.expectations` imports every module of its folder.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt

from gplvm.model.kernels import Hyper, Kernel

PsiStatistics = tuple[pt.TensorVariable, pt.TensorVariable, pt.TensorVariable]
SUMMED_PATTERNS = 4  # up to this many patterns of observed rows, Psi2 is summed per pattern directly


class Expectations(ABC):
    """The psi statistics of one kernel class, as PyTensor graphs."""

    kernel_type: ClassVar[type[Kernel]]
    registry: ClassVar[dict[type[Kernel], type[Expectations]]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "kernel_type" in cls.__dict__:
            Expectations.registry[cls.kernel_type] = cls

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    @abstractmethod
    def psi_statistics(
        self, mean: pt.TensorLike, variance: pt.TensorLike, inducing: pt.TensorLike, hyper: Hyper
    ) -> PsiStatistics:
        """psi0 (scalar), Psi1 (N, M) and Psi2 (M, M) under q(z_n) = N(mean_n, diag variance_n).

        ``inducing`` is U (M, Q).
        """

    @abstractmethod
    def psi_statistics_by_row(
        self, mean: pt.TensorLike, variance: pt.TensorLike, inducing: pt.TensorLike, hyper: Hyper
    ) -> PsiStatistics:
        """Each row's own terms: psi0 (N,), Psi1 (N, M) and Psi2 (N, M, M), for N x M^2 memory.

        Projection needs them row by row: each new row's bound is a sum of its own terms.
        """

    def psi_statistics_by_column(
        self,
        mean: pt.TensorLike,
        variance: pt.TensorLike,
        inducing: pt.TensorLike,
        hyper: Hyper,
        observed: np.ndarray,
    ) -> PsiStatistics:
        """psi0 (D,), Psi1 (N, M) and Psi2 (D, M, M) with the sums over each column's observed rows.
        ``observed`` (bool, N x D) marks the observed cells (data with missing cells).

        With few distinct patterns of observed rows (at most ``SUMMED_PATTERNS``, as when a block
        of columns misses the same rows) each pattern's Psi2 is :meth:`psi_statistics` over its
        rows, summed without an N x M x M stack; otherwise :meth:`psi_statistics_by_row` is summed
        with one product per pattern: O(N M^2 (Q + G)) and an (N, M^2) temporary. Either way
        each column then takes its pattern's sums.
        """
        patterns, pattern_of = np.unique(observed.T, axis=0, return_inverse=True)
        pattern_of = pattern_of.ravel()
        n_columns = observed.shape[1]
        if len(patterns) <= SUMMED_PATTERNS:
            mean, variance = pt.as_tensor(mean), pt.as_tensor(variance)
            _, Psi1, _ = self.psi_statistics(mean, variance, inducing, hyper)
            sums = [
                self.psi_statistics(mean[rows], variance[rows], inducing, hyper)
                for rows in (np.flatnonzero(p) for p in patterns)
            ]
            psi0 = pt.stack([pt.as_tensor(p0) for p0, _, _ in sums])
            Psi2 = pt.stack([P2 for _, _, P2 in sums])
            return psi0[pattern_of], Psi1, Psi2[pattern_of]
        psi0, Psi1, Psi2 = self.psi_statistics_by_row(mean, variance, inducing, hyper)
        mask_T = pt.as_tensor(patterns.astype(float))
        n_rows, n_inducing = Psi1.shape
        per_pattern = mask_T @ Psi2.reshape((n_rows, n_inducing * n_inducing))
        per_column = per_pattern[pattern_of].reshape((n_columns, n_inducing, n_inducing))
        return (mask_T @ psi0)[pattern_of], Psi1, per_column


def has_psi_statistics(kernel: Kernel | type[Kernel]) -> bool:
    """Whether the kernel's expectations under q(Z) are known in closed form."""
    return (kernel if isinstance(kernel, type) else type(kernel)) in Expectations.registry


def expectations_of(kernel: Kernel) -> Expectations:
    """The kernel's :class:`Expectations`; a ValueError for a kernel without closed forms."""
    try:
        return Expectations.registry[type(kernel)](kernel)
    except KeyError:
        raise ValueError(f"the {kernel.name} kernel has no closed-form psi statistics") from None
