"""The GPLVM log marginal likelihood (eq. 1 plus its constant) as PyTensor graphs.

Two forms of the same number:

- ``woodbury``: works with the Q x Q matrix M = I_Q + beta Z^T Z and costs O(N Q^2 + N Q D).
  It never forms an N x N matrix, so it scales to N = 10^5.
- ``dense``: a Cholesky factorisation of the N x N matrix K = Z Z^T + beta^-1 I. O(N^3); kept
  as the reference the woodbury form is tested against.

Gradients come from PyTensor's automatic differentiation; the tests compare them with eq. 4.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky, solve_triangular

from gplvm.kernels import covariance

LikelihoodForm = Literal["woodbury", "dense"]
LOG_2PI = float(np.log(2.0 * np.pi))


def _constant(n_obs, n_features):
    return -0.5 * n_obs * n_features * LOG_2PI


def woodbury_log_likelihood(
    Z: pt.TensorLike, Y: pt.TensorLike, beta: pt.TensorLike, Y_sq_norm: pt.TensorLike | None = None
) -> pt.TensorVariable:
    """Eq. 1 with its constant via the Woodbury identity, in O(N Q^2 + N Q D).

    Parameters
    ----------
    Z : tensor, shape (N, Q)
        Latent positions.
    Y : tensor, shape (N, D)
        Centred data.
    beta : scalar tensor
        Noise precision, > 0.
    Y_sq_norm : scalar tensor, optional
        ||Y||_F^2. Pass it when Y is a shared variable: PyTensor cannot fold sum(Y**2) into a
        constant then, and would recompute it, an O(N D) pass, at every evaluation.

    Returns
    -------
    scalar tensor
        -D/2 ln|K| - 1/2 tr(K^-1 Y Y^T) - ND/2 ln 2 pi with K = Z Z^T + beta^-1 I.
    """
    Z, Y, beta = pt.as_tensor(Z), pt.as_tensor(Y), pt.as_tensor(beta)
    n_obs, n_features = Y.shape[0], Y.shape[1]
    M = pt.eye(Z.shape[1]) + beta * (Z.T @ Z)
    L = cholesky(M, lower=True)
    logdet_K = -n_obs * pt.log(beta) + 2.0 * pt.sum(pt.log(pt.diagonal(L)))
    A = solve_triangular(L, Z.T @ Y, lower=True)
    Y_sq_norm = pt.sum(Y**2) if Y_sq_norm is None else pt.as_tensor(Y_sq_norm)
    trace = beta * Y_sq_norm - beta**2 * pt.sum(A**2)
    return -0.5 * n_features * logdet_K - 0.5 * trace + _constant(n_obs, n_features)


def dense_log_likelihood(
    Z: pt.TensorLike, Y: pt.TensorLike, beta: pt.TensorLike, Y_sq_norm: pt.TensorLike | None = None
) -> pt.TensorVariable:
    """Eq. 1 with its constant via a Cholesky factorisation of the N x N matrix K, in O(N^3).

    Parameters and return value are those of :func:`woodbury_log_likelihood`; ``Y_sq_norm`` is
    accepted for a common signature and not needed.
    """
    Z, Y, beta = pt.as_tensor(Z), pt.as_tensor(Y), pt.as_tensor(beta)
    K = Z @ Z.T + pt.eye(Y.shape[0]) / beta
    return dense_log_likelihood_from_K(K, Y)


def dense_log_likelihood_from_K(K: pt.TensorLike, Y: pt.TensorLike) -> pt.TensorVariable:
    """Eq. 1 with its constant as a function of a given covariance K (N x N).

    Exposed so that tests can take PyTensor's gradient with respect to K itself (eq. 3).
    """
    K, Y = pt.as_tensor(K), pt.as_tensor(Y)
    n_obs, n_features = Y.shape[0], Y.shape[1]
    L = cholesky(K, lower=True)
    logdet_K = 2.0 * pt.sum(pt.log(pt.diagonal(L)))
    A = solve_triangular(L, Y, lower=True)
    return -0.5 * n_features * logdet_K - 0.5 * pt.sum(A**2) + _constant(n_obs, n_features)


LIKELIHOODS: dict[str, Callable[..., pt.TensorVariable]] = {
    "woodbury": woodbury_log_likelihood,
    "dense": dense_log_likelihood,
}


def log_likelihood(
    Z: pt.TensorLike,
    Y: pt.TensorLike,
    beta: pt.TensorLike,
    form: LikelihoodForm = "woodbury",
    Y_sq_norm: pt.TensorLike | None = None,
) -> pt.TensorVariable:
    """Eq. 1 with its constant in the requested ``form`` (``"woodbury"`` or ``"dense"``)."""
    try:
        fn = LIKELIHOODS[form]
    except KeyError:
        raise ValueError(
            f"likelihood form {form!r} is unknown; choose one of {sorted(LIKELIHOODS)}"
        ) from None
    return fn(Z, Y, beta, Y_sq_norm)


def kernel_log_likelihood(
    Z: pt.TensorLike,
    Y: pt.TensorLike,
    kernel: str,
    hyper: Mapping,
    form: LikelihoodForm = "dense",
    jitter: float = 0.0,
    Y_sq_norm: pt.TensorLike | None = None,
) -> pt.TensorVariable:
    """Eq. 1 with its constant for any kernel of :func:`gplvm.kernels.covariance`.

    The linear kernel goes through :func:`log_likelihood` in the requested ``form``; other
    kernels need the dense Cholesky of K (``form`` must be ``"dense"``). A K that cannot be
    factorised gives NaN, which NUTS rejects like a divergence.
    """
    if kernel == "linear":
        return log_likelihood(Z, Y, hyper["beta"], form, Y_sq_norm)
    if form != "dense":
        raise ValueError(f"the {kernel} kernel needs the dense form, not {form!r}")
    return dense_log_likelihood_from_K(covariance(Z, kernel, hyper, jitter), Y)
