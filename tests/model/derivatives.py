"""NumPy derivatives of the kernels, chained with G = dl/dK (eq. 3) by the Frobenius product:
dl/dZ = G : dk/dZ and dl/dtheta = G : dk/dtheta.

The tests compare them with PyTensor's gradients and with finite differences. A kernel without an
entry here is still checked against finite differences by the shared kernel tests.
"""

from __future__ import annotations

import math

import numpy as np

SQRT5 = math.sqrt(5.0)

# df/d(r^2) of each stationary kernel's profile f(r^2)
PROFILE_SLOPES = {
    "rbf": lambda r2: -0.5 * np.exp(-0.5 * r2),
    "matern52": lambda r2: -5.0 / 6.0 * (1.0 + SQRT5 * np.sqrt(r2)) * np.exp(-SQRT5 * np.sqrt(r2)),
}


def has_derivatives(kernel) -> bool:
    return kernel.name == "linear" or kernel.name in PROFILE_SLOPES


def _r2(kernel, Z, hyper):
    return kernel._r2_np(Z, Z, hyper)


def _weights(kernel, G, Z, hyper):
    """W_ab = G_ab * variance * f'(r_ab^2): G : dk/d(r^2)."""
    return G * hyper["variance"] * PROFILE_SLOPES[kernel.name](_r2(kernel, Z, hyper))


def grad_Z(kernel, G: np.ndarray, Z: np.ndarray, hyper) -> np.ndarray:
    """dl/dZ = G : dk/dZ for a symmetric G = dl/dK."""
    if kernel.name == "linear":
        # dl = G : (Z dZ^T + dZ Z^T) = (G + G^T) Z : dZ
        return (G + G.T) @ Z
    # dr_ab^2/dz_iq = 2 (z_aq - z_bq) / l_q^2 (delta_ai - delta_bi); G and r^2 are symmetric.
    ell2 = np.broadcast_to(np.asarray(hyper["lengthscale"], dtype=float) ** 2, (Z.shape[1],))
    W = _weights(kernel, G, Z, hyper)
    return 4.0 * (W.sum(axis=1)[:, None] * Z - W @ Z) / ell2


def grad_hyper(kernel, G: np.ndarray, Z: np.ndarray, hyper) -> dict[str, np.ndarray]:
    """dl/dtheta for beta and each of the kernel's hyperparameters, jitter included."""
    out = {"beta": -np.trace(G) / np.asarray(hyper["beta"]) ** 2}
    if kernel.name == "linear":
        return out
    ell = np.asarray(hyper["lengthscale"], dtype=float)
    sq_diff = (Z[:, None, :] - Z[None, :, :]) ** 2  # (N, N, Q)
    ell_q = np.broadcast_to(ell, (Z.shape[1],))
    # dr^2/dl_q = -2 (z_q - z'_q)^2 / l_q^3
    per_dim = -2.0 * np.einsum("ab,abq->q", _weights(kernel, G, Z, hyper), sq_diff) / ell_q**3
    trace = np.trace(G) * kernel.jitter  # the jitter's share of the diagonal
    return {
        **out,
        "variance": np.sum(G * kernel.profile(_r2(kernel, Z, hyper))) + trace,
        "lengthscale": per_dim if ell.ndim else per_dim.sum(),
        "bias": np.sum(G) + trace,
    }
