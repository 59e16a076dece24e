"""The Bayesian GPLVM's objective terms: the sparse bound with Z integrated over
q(Z) = prod_n N(mean_n, diag variance_n) (through the kernel's psi statistics), and the KL of q
to the prior on Z.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from gplvm.model.collapsed_bound import collapsed_bound, collapsed_bound_by_column
from gplvm.model.expectations import expectations_of
from gplvm.model.forms.sparse import Sparse
from gplvm.model.kernels import Hyper


def expected_log_likelihood(
    form: Sparse,
    mean: pt.TensorLike,
    variance: pt.TensorLike,
    Y: pt.TensorLike,
    hyper: Hyper,
    Y_sq_norm: pt.TensorLike | None = None,
) -> pt.TensorVariable:
    """The sparse bound with Z integrated over q(Z) = N(mean, diag variance): the data term."""
    psi0, Psi1, Psi2 = expectations_of(form.kernel).psi_statistics(mean, variance, hyper["inducing"], hyper)
    noise = form.kernel.noise_variance(hyper)
    return collapsed_bound(psi0, Psi1, Psi2, form.K_uu(hyper), Y, noise, Y_sq_norm)


def expected_missing_log_likelihood(
    form: Sparse,
    mean: pt.TensorLike,
    variance: pt.TensorLike,
    Y: pt.TensorLike,
    hyper: Hyper,
    observed: np.ndarray,
) -> pt.TensorVariable:
    """:func:`expected_log_likelihood` of the observed cells: each column's bound from its rows."""
    psi0, Psi1, Psi2 = expectations_of(form.kernel).psi_statistics_by_column(
        mean, variance, hyper["inducing"], hyper, observed
    )
    noise = form.kernel.noise_variance(hyper)
    return collapsed_bound_by_column(psi0, Psi1, Psi2, form.K_uu(hyper), Y, noise, observed)


def gaussian_kl(mean: pt.TensorLike, variance: pt.TensorLike, prior_scale: float) -> pt.TensorVariable:
    """KL(prod N(mean, variance) || N(0, prior_scale^2)), summed over every entry."""
    ratio = pt.as_tensor(variance) / prior_scale**2
    return 0.5 * pt.sum(ratio + pt.as_tensor(mean) ** 2 / prior_scale**2 - 1.0 - pt.log(ratio))
