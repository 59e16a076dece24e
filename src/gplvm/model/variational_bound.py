"""The Bayesian GPLVM's objective terms: the sparse bound with Z integrated over
q(Z) = prod_n N(mean_n, diag variance_n) (through the kernel's psi statistics), and the KL of q
to the prior on Z.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytensor.tensor as pt

from gplvm.data.missing import column_groups
from gplvm.model.collapsed_bound import collapsed_bound, collapsed_bound_by_column
from gplvm.model.expectations import expectations_of
from gplvm.model.forms.sparse import Sparse
from gplvm.model.kernels import Hyper
from gplvm.model.predictive import PredictiveFactors


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


def optimal_q_u_factors(
    form: Sparse, mean: np.ndarray, variance: np.ndarray, Y: np.ndarray, hyper: Hyper, chunk: int = 2048
) -> list[PredictiveFactors]:
    """Predictive factors (:mod:`gplvm.model.predictive`) of a Bayesian GPLVM fit's optimal q(u).

    The psi statistics of the training q(Z) = N(mean, diag variance) are summed over each column
    group's observed rows (one group for a complete Y), ``chunk`` rows at a time: memory
    O(chunk M^2), whatever N.
    """
    import pytensor

    mean_in, variance_in = pt.matrix("mean"), pt.matrix("variance")
    values = {name: pt.as_tensor(np.asarray(value, dtype=float)) for name, value in hyper.items()}
    _, Psi1, Psi2 = expectations_of(form.kernel).psi_statistics_by_row(
        mean_in, variance_in, values["inducing"], values
    )
    with pytensor.config.change_flags(cxx=""):
        statistics = pytensor.function([mean_in, variance_in], [Psi1, Psi2], mode="FAST_COMPILE")
    observed = ~np.isnan(Y)
    groups = column_groups(observed)
    in_group = [np.isin(np.arange(len(Y)), g.rows) for g in groups]
    Y0 = np.where(observed, Y, 0.0)
    n_inducing = np.shape(hyper["inducing"])[0]
    psi1_Y = [np.zeros((n_inducing, len(g.cols))) for g in groups]
    Psi2_sums = [np.zeros((n_inducing, n_inducing)) for _ in groups]
    for start in range(0, len(Y), chunk):
        block = slice(start, start + chunk)
        P1, P2 = statistics(mean[block], variance[block])
        for i, group in enumerate(groups):
            rows = in_group[i][block]
            psi1_Y[i] += P1[rows].T @ Y0[block][rows][:, group.cols]
            Psi2_sums[i] += P2[rows].sum(axis=0)
    factors = [form.statistics_factors(p1, p2, hyper) for p1, p2 in zip(psi1_Y, Psi2_sums, strict=True)]
    if len(groups) == 1:
        return factors
    return [replace(f, columns=g.cols) for f, g in zip(factors, groups, strict=True)]
