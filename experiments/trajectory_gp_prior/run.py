"""The GP latent prior over time against the iid prior on a known trajectory.

Run from the repository root:  python experiments/trajectory_gp_prior/run.py
Writes output/ beside this file (git ignores it): trajectory.csv (the data with its time column)
and plain.csv (without it), one run directory per fit, comparison.json and comparison.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gplvm.config import load_config
from gplvm.run import markdown
from gplvm.run.pipeline import fit_experiment, save_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
N_ROWS, N_FEATURES, NOISE = 150, 20, 0.1
PLAIN = [f"dataset.path={OUT / 'plain.csv'}"]  # the same rows without the time column
GP = ["latent_prior=gp", "latent_prior.inputs=[time]"]
BAYESIAN = ["model=rbf_ard", "inference=variational", "model.num_inducing=30"]
FITS = {
    "MAP, iid prior": PLAIN,
    "MAP, GP prior over time": GP,
    "Bayesian GPLVM, iid prior": [*PLAIN, *BAYESIAN],
    "Bayesian GPLVM, GP prior over time": [*GP, *BAYESIAN],
}


def write_data(path: Path) -> np.ndarray:
    """(sin t, cos t/2) for t in [0, 4 pi], through tanh of a random 2 x 20 map, plus noise."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 4 * np.pi, N_ROWS)
    trajectory = np.column_stack([np.sin(t), np.cos(0.5 * t)])
    Y = np.tanh(trajectory @ rng.standard_normal((2, N_FEATURES))) + NOISE * rng.standard_normal(
        (N_ROWS, N_FEATURES)
    )
    frame = pd.DataFrame(Y).add_prefix("y")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path.parent / "plain.csv", index=False)
    frame.insert(0, "time", t)
    frame.to_csv(path, index=False)
    return trajectory


def procrustes_error(Z: np.ndarray, truth: np.ndarray) -> float:
    """||s Z R - truth||^2 / ||truth||^2 after centring, at the best rotation R and scale s."""
    A, B = truth - truth.mean(axis=0), Z - Z.mean(axis=0)
    U, singular, Vt = np.linalg.svd(B.T @ A)
    return float(np.sum((singular.sum() / np.sum(B**2) * B @ U @ Vt - A) ** 2) / np.sum(A**2))


def main() -> dict:
    truth = write_data(OUT / "trajectory.csv")
    rows = {}
    for name, overrides in FITS.items():
        start = time.perf_counter()
        exp = fit_experiment(load_config("+experiment=trajectory_gp_prior", *overrides))
        seconds = time.perf_counter() - start
        save_experiment(exp, OUT / name.replace(", ", "_").replace(" ", "_"))
        m = exp.metrics
        Z = (
            exp.idata["variational"]["Z_mean"].values
            if "variational" in exp.idata
            else exp.fit.point_estimate()
        )
        rows[name] = {
            "procrustes_error": procrustes_error(Z, truth),
            "elbo_or_log_posterior": m["elbo"] if m.get("elbo") is not None else m["log_posterior"],
            "latent_lengthscale": (m.get("latent_prior") or {}).get("lengthscale"),
            "iterations": m["iterations"],
            "seconds": seconds,
        }
        print(f"{name}: Procrustes error {rows[name]['procrustes_error']:.3f} in {seconds:.1f} s")
    (OUT / "comparison.json").write_text(json.dumps(rows, indent=2) + "\n")
    columns = ["fit", *next(iter(rows.values()))]
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else ("-" if v is None else str(v))  # noqa: E731
    table = markdown.table(columns, ([name, *row.values()] for name, row in rows.items()), cell)
    (OUT / "comparison.md").write_text(table + "\n")
    print(table)
    return rows


if __name__ == "__main__":
    main()
