"""Missing cells on digits: remove 20% at random, fit GPLVMs on what is left, score the imputation.

Run from the repository root:  python experiments/digits_missing/run.py
Writes output/ beside this file (git ignores it): the data file with the holes, one run directory
per model, missing.json and missing.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gplvm.config import load_config
from gplvm.data.bundled import load_digits_array
from gplvm.evaluate.baselines import svd_impute
from gplvm.run import markdown
from gplvm.run.pipeline import fit_experiment, save_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
FRACTION, SEED = 0.2, 0
MODELS = {
    "linear GPLVM, Q = 10": ["model=linear", "model.latent_dim=10"],
    "rbf GPLVM (sparse, M = 64), Q = 5": [
        "model=rbf",
        "model.likelihood=sparse",
        "model.latent_dim=5",
        "inference.backend=numba",
    ],
    "Bayesian GPLVM (rbf ARD, M = 64), Q = 5": [
        "model=rbf_ard",
        "model.latent_dim=5",
        "inference=variational",
    ],
}
SVD_RANKS = (2, 5, 10, 20)


def remove_cells(raw: np.ndarray) -> np.ndarray:
    """``raw`` with a seeded FRACTION of its cells set to NaN."""
    holes = raw.copy()
    holes[np.random.default_rng(SEED).random(raw.shape) < FRACTION] = np.nan
    return holes


def scores(filled: np.ndarray, raw: np.ndarray, missing: np.ndarray, sd: np.ndarray | None = None) -> dict:
    """RMSE on the removed cells and, with sds, the share inside their 95% intervals."""
    error = filled[missing] - raw[missing]
    out = {"rmse_removed": float(np.sqrt(np.mean(error**2)))}
    out["coverage_95"] = None if sd is None else float(np.mean(np.abs(error) <= 1.96 * sd[missing]))
    return out


def main() -> dict:
    raw, labels, names = load_digits_array()
    holes = remove_cells(raw)
    missing = np.isnan(holes)
    OUT.mkdir(exist_ok=True)
    frame = pd.DataFrame(holes, columns=names)
    frame["label"] = labels
    frame.to_csv(OUT / "digits_missing.csv", index=False)
    rows = {}
    for name, overrides in MODELS.items():
        start = time.perf_counter()
        cfg = load_config(
            "+experiment=digits_missing", f"dataset.path={OUT / 'digits_missing.csv'}", *overrides
        )
        exp = fit_experiment(cfg)
        seconds = time.perf_counter() - start
        run_dir = OUT / name.split(",")[0].replace(" ", "_")
        save_experiment(exp, run_dir, plot=False)
        imputed = pd.read_csv(run_dir / "imputed.csv").to_numpy()
        sd = pd.read_csv(run_dir / "imputed_sd.csv").to_numpy()
        rows[name] = {
            "seconds": seconds,
            **scores(imputed, raw, missing, sd),
            "iterations": exp.record.iterations,
            "knn_error": exp.record.knn_error,
        }
        print(name, rows[name])
    rows["column means"] = {
        "seconds": 0.0,
        **scores(np.where(missing, np.nanmean(holes, axis=0), holes), raw, missing),
    }
    for rank in SVD_RANKS:
        start = time.perf_counter()
        filled = svd_impute(holes, rank)
        rows[f"PCA imputation (iterative SVD), rank {rank}"] = {
            "seconds": time.perf_counter() - start,
            **scores(filled, raw, missing),
        }
    (OUT / "missing.json").write_text(json.dumps(rows, indent=2) + "\n")
    keys = ["method", "seconds", "rmse_removed", "coverage_95", "iterations", "knn_error"]
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else "-" if v is None else str(v)  # noqa: E731
    table = markdown.table(
        keys, ([name, *(row.get(k) for k in keys[1:])] for name, row in rows.items()), cell
    )
    (OUT / "missing.md").write_text(table + "\n")
    print(table)
    return rows


if __name__ == "__main__":
    main()
