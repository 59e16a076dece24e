"""New rows on digits: fit on the first 80%, project the other 20%, and classify them by 1-NN.

Run from the repository root:  python experiments/digits_new_rows/run.py
Writes output/ beside this file (git ignores it): new_rows.json and new_rows.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from scipy.spatial import KDTree

import gplvm
from gplvm.config import load_config
from gplvm.data.bundled import load_digits_array
from gplvm.run import markdown
from gplvm.run.pipeline import fit_experiment, save_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
N_TRAIN = 1437
MODELS = {
    "linear GPLVM": ["model=linear", "model.learn.beta=true"],
    "rbf GPLVM (sparse, M = 64)": ["model=rbf", "model.likelihood=sparse", "inference.backend=numba"],
}


def one_nn_error(Z_train, labels_train, Z_new, labels_new) -> float:
    """Share of new rows whose nearest training latent has another label."""
    return float(np.mean(labels_train[KDTree(Z_train).query(Z_new)[1]] != labels_new))


def main() -> dict:
    raw, labels, _ = load_digits_array()
    new_rows, new_labels = raw[N_TRAIN:], labels[N_TRAIN:]
    rows = {}
    for name, overrides in MODELS.items():
        start = time.perf_counter()
        exp = fit_experiment(load_config("+experiment=digits_new_rows", *overrides))
        fit_seconds = time.perf_counter() - start
        path = OUT / name.split()[0]
        save_experiment(exp, path, plot=False)
        run = gplvm.load_run(path)
        start = time.perf_counter()
        projection = run.project(new_rows)
        rows[name] = {
            "fit_seconds": fit_seconds,
            "project_seconds": time.perf_counter() - start,
            "train_knn_error": exp.record.knn_error,
            "new_rows_knn_error": one_nn_error(run.latents, labels[:N_TRAIN], projection.Z, new_labels),
            "median_sd": float(np.median(projection.Z_sd)),
        }
        print(name, rows[name])
    # PCA fitted on the training rows, new rows projected onto its two components.
    train = raw[:N_TRAIN]
    mean = train.mean(axis=0)
    _, _, Vt = np.linalg.svd(train - mean, full_matrices=False)
    scores = (train - mean) @ Vt[:2].T
    rows["PCA (2 components)"] = {
        "fit_seconds": 0.0,
        "project_seconds": 0.0,
        "train_knn_error": None,
        "new_rows_knn_error": one_nn_error(
            scores, labels[:N_TRAIN], (new_rows - mean) @ Vt[:2].T, new_labels
        ),
        "median_sd": None,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "new_rows.json").write_text(json.dumps(rows, indent=2) + "\n")
    keys = ["method", *next(iter(rows.values()))]
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else "-" if v is None else str(v)  # noqa: E731
    table = markdown.table(keys, ([name, *row.values()] for name, row in rows.items()), cell)
    (OUT / "new_rows.md").write_text(table + "\n")
    print(table)
    return rows


if __name__ == "__main__":
    main()
