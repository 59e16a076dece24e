"""Minibatch SVI in ``make bench``: seconds per epoch against N (it should grow linearly).

Gaussian data of N rows x 50 columns drawn through tanh of a random map of a 2-D latent; Q = 2,
M = 32 inducing inputs, batches of 256 rows, two epochs each with the C backend (the step's
compile is excluded). The per-row cost should not change with N.
"""

from __future__ import annotations

import numpy as np

Q, M, D, BATCH, EPOCHS = 2, 32, 50, 256, 2


def _data(n_obs: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_obs, Q))
    Y = np.tanh(Z @ rng.standard_normal((Q, D))) + 0.1 * rng.standard_normal((n_obs, D))
    return Y - Y.mean(axis=0)


def bench_svi_epochs(sizes: list[int]) -> list[dict]:
    """Per N: seconds per epoch, microseconds per row, and per-row time over the smallest N's."""
    from gplvm.config import load_config
    from gplvm.inference.base import compile_mode
    from gplvm.inference.svi import Schedule, fit_svi
    from gplvm.inference.svi_objectives import GaussianObjective
    from gplvm.model.spec import ModelSpec

    cfg = load_config("model=rbf_ard", f"model.latent_dim={Q}", f"model.num_inducing={M}")
    rows, first = [], None
    for n_obs in sizes:
        Y = _data(n_obs)
        spec = ModelSpec.from_config(cfg.model, n_obs).as_sparse()
        U, _, _ = np.linalg.svd(Y, full_matrices=False)
        Z0 = U[:, :Q] * np.sqrt(n_obs)
        start = {
            "Z_mean": Z0,
            "Z_var": np.full_like(Z0, 0.1),
            "inducing": Z0[np.random.default_rng(0).choice(n_obs, M, replace=False)],
            "q_u_mean": np.zeros((M, D)),
            "q_u_chol": 0.1 * np.eye(M),
        }
        objective = GaussianObjective(spec, Y, 1.0, compile_mode("c"))  # inference=svi's default
        schedule = Schedule(batch_size=BATCH, epochs=EPOCHS, learning_rate=0.02, tol=0.0)
        fit = fit_svi(objective, start, schedule)
        per_epoch = fit.trace.seconds / EPOCHS
        per_row = 1e6 * per_epoch / n_obs
        first = first or per_row
        rows.append(
            {
                "N": n_obs,
                "seconds_per_epoch": round(per_epoch, 3),
                "us_per_row": round(per_row, 2),
                "per_row_vs_smallest": round(per_row / first, 2),
                "rows_per_second": round(n_obs / per_epoch),
            }
        )
    return rows
