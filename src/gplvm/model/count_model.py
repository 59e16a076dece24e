"""The GPLVM for counts: y_nd ~ Poisson or negative binomial with mean s_n exp(b_d + f_d(z_n)).

s_n is row n's size factor (its total count over the median row's: the library size, an offset),
b_d column d's log level (a learned bias), f_d ~ GP(0, k) as in the Gaussian GPLVM with inducing
outputs u_d at the inducing inputs, and q(u_d) = N(m_d, S) with S shared by the columns. Given a
latent point z, q(u) makes f_d(z) Gaussian:

    mean m_d^T A k_u(z),  variance k(z, z) - k_u(z)^T A k_u(z) + k_u(z)^T A S A k_u(z),   A = K_uu^-1,

(computed through the whitened q(v) of u = L_K v, L_K the Cholesky factor of K_uu),

and each cell's expected log likelihood under it is closed form (Poisson) or by quadrature
(negative binomial; :mod:`gplvm.model.count_likelihoods`). Unlike the Gaussian case, the
expectation over q(z_n) has no closed form, so the fit integrates z by the reparameterisation
z = mu + sd x eps (eps ~ N(0, I)) and scores posterior draws of Z directly.

:func:`count_row_terms` is the bound's rows in PyTensor for the fit, :func:`column_bounds` each
column's bound at a draw of Z in NumPy for the run's ``log_likelihood`` group.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import solve_triangular
from scipy import linalg as sla

from gplvm.config import Noise
from gplvm.data.on_disk import column_totals, per_row, row_chunks
from gplvm.errors import DataError
from gplvm.model.count_likelihoods import (
    negative_binomial_constant_np,
    negative_binomial_expected_log_lik,
    negative_binomial_expected_log_lik_np,
    poisson_constant_np,
    poisson_expected_log_lik,
)
from gplvm.model.kernels import Hyper, Kernel

INTEGER_TOL = 1e-6  # how far from an integer a count may be after centring and back (rounding)


def check_counts(values: np.ndarray, names: list[str], noise: str) -> None:
    """A one-line :class:`DataError` naming the first negative or non-integer cell of ``values``
    (read by chunks of rows, so that a memory-mapped file is never loaded whole)."""
    n_bad, first = 0, None
    for rows in row_chunks(values.shape):
        block = np.asarray(values[rows], dtype=float)
        counts = np.rint(block)
        bad = (counts < 0) | (np.abs(block - counts) > INTEGER_TOL * np.maximum(1.0, np.abs(block)))
        if bad.any() and first is None:
            n, d = (int(i) for i in np.argwhere(bad)[0])
            first = (rows.start + n, d, block[n, d])
        n_bad += int(np.count_nonzero(bad))
    if first is not None:
        n, d, value = first
        raise DataError(
            f"model.noise={noise} needs non-negative integer counts, and column {names[d]!r} has"
            f" {value:.6g} at row {n} ({n_bad} such cells); use model.noise=gaussian for other data"
        )


def counts_of(values: np.ndarray, names: list[str], noise: str) -> np.ndarray:
    """The data as counts (float64 integers), or a one-line :class:`DataError` naming the first
    negative or non-integer cell."""
    check_counts(values, names, noise)
    return np.rint(values)


def size_factors(counts: np.ndarray) -> np.ndarray:
    """Each row's total count over the median row total; a row with no count is refused."""
    totals = per_row(lambda block: block.sum(axis=1), counts)
    empty = np.flatnonzero(totals == 0)
    if len(empty):
        raise DataError(
            f"row {int(empty[0])} (counting from 0) has no counts ({len(empty)} such rows): a size factor"
            " needs at least one; drop empty rows, or set model.size_factors=false"
        )
    return totals / np.median(totals)


def log1p_rows(counts: np.ndarray, sizes: np.ndarray, rows: slice) -> np.ndarray:
    """log(1 + y_nd / s_n) for the rows ``rows``: counts on a log scale with library size removed."""
    return np.log1p(np.asarray(counts[rows], dtype=float) / sizes[rows, None])


def column_moments(
    counts: np.ndarray, transform: Callable[[slice], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and variance of ``transform(rows)``, a function of ``counts``' rows, by
    chunks of rows."""
    n_obs = counts.shape[0]
    mean = column_totals(transform, counts.shape) / n_obs
    return mean, column_totals(lambda rows: (transform(rows) - mean) ** 2, counts.shape) / n_obs


def initial_bias(counts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each column's log level at f = 0: log(its total / the size factors' total), half a count
    added so that an all-zero column starts finite."""
    totals = column_totals(lambda rows: np.asarray(counts[rows], dtype=float), counts.shape)
    return np.log((totals + 0.5) / sizes.sum())


def initial_dispersion(counts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each column's negative-binomial r by moments of the size-normalised counts, mean^2 /
    (variance - mean), clipped to [0.1, 1000] (large r: nearly Poisson)."""
    mean, var = column_moments(counts, lambda rows: np.asarray(counts[rows], dtype=float) / sizes[rows, None])
    excess = np.maximum(var - mean, 1e-3 * np.maximum(mean, 1e-3))
    return np.clip(mean**2 / excess, 0.1, 1000.0)


def f_moments(Kfu, kff, q_v_mean, q_v_chol, L_K):
    """f's mean (B, D) and variance (B,) at B latent points, in PyTensor, with q(u) whitened:
    u = L_K v, q(v) = N(m, S), S = C C^T. With V = L_K^-1 k_u(z), f's mean is V^T m and its
    variance k(z, z) - |V|^2 + |C^T V|^2: triangular solves only, which stay accurate when K_uu
    is ill-conditioned (the exp of the count likelihoods magnifies any error in f's variance)."""
    V = solve_triangular(L_K, Kfu.T, lower=True)  # (M, B)
    mean = V.T @ q_v_mean
    variance = kff - pt.sum(V**2, axis=0) + pt.sum((q_v_chol.T @ V) ** 2, axis=0)
    return mean, pt.maximum(variance, 1e-12)


def count_row_terms(
    Kfu, kff, Y, log_size, q_v_mean, q_v_chol, L_K, bias, noise: str, dispersion=None, log_factorials=None
):
    """sum over the B rows and D columns of E[log p(y_nd | f)] under the whitened q(v) (see
    :func:`f_moments`), at one latent point per row (``Kfu`` (B, M) = k(z_n, U), ``kff`` (B,) =
    k(z_n, z_n)); ``log_size`` (B,), ``bias`` (D,), ``L_K`` the lower Cholesky factor of K_uu.
    ``log_factorials``, the batch's sum of log y!, saves the Poisson's log-gamma of every cell
    at every step (it does not depend on the parameters)."""
    mean, variance = f_moments(Kfu, kff, q_v_mean, q_v_chol, L_K)
    mean = mean + bias[None, :]
    if noise == Noise.poisson and log_factorials is not None:
        log_mean = log_size[:, None] + mean
        return pt.sum(Y * log_mean - pt.exp(log_mean + variance[:, None] / 2)) - log_factorials
    if noise == Noise.poisson:
        cells = poisson_expected_log_lik(Y, mean, variance[:, None], log_size[:, None])
    else:
        cells = negative_binomial_expected_log_lik(
            Y, mean, pt.broadcast_to(variance[:, None], mean.shape), log_size[:, None], dispersion[None, :]
        )
    return pt.sum(cells)


def whiten(q_u_mean: np.ndarray, q_u_chol: np.ndarray, L_K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """q(u) = N(m, L L^T) as the whitened q(v) of u = L_K v: (L_K^-1 m, L_K^-1 L)."""
    return (
        sla.solve_triangular(L_K, q_u_mean, lower=True),
        sla.solve_triangular(L_K, q_u_chol, lower=True),
    )


def column_kl(q_u_mean: np.ndarray, q_u_chol: np.ndarray, Kuu: np.ndarray) -> np.ndarray:
    """KL(N(m_d, S) || N(0, K_uu)) for each column d, shape (D,), in NumPy."""
    L_K = np.linalg.cholesky(Kuu)
    scaled_chol = sla.solve_triangular(L_K, q_u_chol, lower=True)
    scaled_mean = sla.solve_triangular(L_K, q_u_mean, lower=True)
    log_det = 2.0 * np.sum(np.log(np.diag(L_K))) - 2.0 * np.sum(np.log(np.abs(np.diag(q_u_chol))))
    shared = np.sum(scaled_chol**2) - len(Kuu) + log_det
    return 0.5 * (shared + np.sum(scaled_mean**2, axis=0))


def column_constants(counts: np.ndarray, noise: str, dispersion: np.ndarray | None = None) -> np.ndarray:
    """Each column's sum over rows of its log likelihood's terms free of f (log y! and, for the
    negative binomial, the dispersion's), shape (D,), by chunks of rows: the same at every draw."""

    def constant(rows: slice) -> np.ndarray:
        y = np.asarray(counts[rows], dtype=float)
        return (
            poisson_constant_np(y) if noise == Noise.poisson else negative_binomial_constant_np(y, dispersion)
        )

    return column_totals(constant, counts.shape)


def column_bounds(
    Z: np.ndarray,
    counts: np.ndarray,
    log_size: np.ndarray,
    kernel: Kernel,
    hyper: Hyper,
    Kuu: np.ndarray,
    q_u: tuple[np.ndarray, np.ndarray],
    bias: np.ndarray,
    noise: str,
    dispersion: np.ndarray | None = None,
    chunk: int = 8192,
    constants: np.ndarray | None = None,
) -> np.ndarray:
    """Each column's bound on log p(y_d | Z) at the latent points Z, shape (D,): sum_n E[log p(y_nd
    | f)] under q(u) minus KL(q(u_d) || p(u_d)). It is the column's share of the uncollapsed bound
    at Z, as a Gaussian run's column terms are of the collapsed one; rows go ``chunk`` at a time.
    ``constants``: :func:`column_constants`, computed once for many draws (by default here)."""
    U = np.asarray(hyper["inducing"])
    L_K = np.linalg.cholesky(Kuu)
    v_mean, v_chol = whiten(*q_u, L_K)
    total = column_constants(counts, noise, dispersion) if constants is None else np.array(constants)
    for first in range(0, len(Z), chunk):
        rows = slice(first, first + chunk)
        V = sla.solve_triangular(L_K, kernel.cross_np(Z[rows], U, hyper).T, lower=True)
        variance = kernel.diag_np(Z[rows], hyper) - np.sum(V**2, axis=0) + np.sum((v_chol.T @ V) ** 2, axis=0)
        variance = np.maximum(variance, 1e-12)
        y, s = np.asarray(counts[rows], dtype=float), log_size[rows]
        if noise == Noise.poisson:
            total += _poisson_column_sums(y, V, v_mean, bias, variance, s)
            continue
        mean = V.T @ v_mean + bias
        variance = np.broadcast_to(variance[:, None], mean.shape)
        cells = negative_binomial_expected_log_lik_np(y, mean, variance, s[:, None], dispersion, False)
        total += cells.sum(axis=0)
    return total - column_kl(*q_u, Kuu)


def _poisson_column_sums(y, V, v_mean, bias, variance, log_size) -> np.ndarray:
    """sum_n of :func:`poisson_expected_log_lik_np` without its constant, per column, with f's mean
    V^T m + b, the bias and the size factors' terms summed apart and the exponential's factors
    exp(b) and exp(s + v / 2) taken out of the sum: one product and one exp per cell."""
    mean = V.T @ v_mean
    linear = np.einsum("nd,nd->d", y, mean) + bias * y.sum(axis=0) + log_size @ y
    return linear - np.exp(bias) * (np.exp(log_size + variance / 2) @ np.exp(mean, out=mean))
