"""Digits as two views (left and right halves): MRD's shared and private dims, and the right half
of held-out digits predicted from the left.

Run from the repository root:  make experiment NAME=digits_views
Writes output/ beside this file (git ignores it): train.csv and heldout.csv (a seeded 80/20 split
of scikit-learn's digits), concatenated.csv (both, the held-out right halves empty), the MRD run,
the single-view run on concatenated.csv, comparison.json and comparison.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeCV

from gplvm.config import load_config
from gplvm.data.loading import load_dataset
from gplvm.run import markdown
from gplvm.run.pipeline import fit_experiment, save_experiment
from gplvm.run.views_pipeline import fit_views_experiment, save_views_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"


def write_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    frame = pd.DataFrame(X[order]).add_prefix("p").assign(digit=y[order])
    cut = int(0.8 * len(frame))
    OUT.mkdir(parents=True, exist_ok=True)
    frame.iloc[:cut].to_csv(OUT / "train.csv", index=False)
    frame.iloc[cut:].to_csv(OUT / "heldout.csv", index=False)
    return frame.iloc[:cut], frame.iloc[cut:]


def single_view_baseline(train: pd.DataFrame, heldout: pd.DataFrame, right: list[str]) -> tuple:
    """A single-view Bayesian GPLVM (same kernel, Q and inducing points) on every row, the
    held-out rows' right halves missing: their imputed means, and the fit's seconds."""
    blanked = heldout.copy()
    blanked[right] = np.nan
    pd.concat([train, blanked]).to_csv(OUT / "concatenated.csv", index=False)
    cfg = load_config(
        "dataset=file",
        f"dataset.path={OUT / 'concatenated.csv'}",
        "dataset.label_column=digit",
        "dataset.missing=allow",
        "model=rbf_ard",
        "model.latent_dim=5",
        "model.likelihood=sparse",
        "inference=variational",
    )
    start = time.perf_counter()
    exp = fit_experiment(cfg)
    seconds = time.perf_counter() - start
    save_experiment(exp, OUT / "single_view")
    imputed = exp.idata["imputed"]["Y_imputed"].values
    return imputed[len(train) :, 32:], seconds


def rmse(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - truth) ** 2)))


def main() -> dict:
    train, heldout = write_split()
    pixels = [c for c in train.columns if c != "digit"]
    left, right = pixels[:32], pixels[32:]
    cfg = load_config("+experiment=digits_views")
    start = time.perf_counter()
    exp = fit_views_experiment(cfg, load_dataset(cfg.dataset))
    seconds = time.perf_counter() - start
    save_views_experiment(exp, OUT / "mrd")
    rows = heldout[pixels].to_numpy(dtype=float).copy()
    truth = rows[:, 32:].copy()
    rows[:, 32:] = np.nan
    start = time.perf_counter()
    predicted = exp.predict_views(rows)
    predict_seconds = time.perf_counter() - start
    inside = np.abs(predicted.mean[:, 32:] - truth) <= 1.96 * predicted.sd[:, 32:]
    single_view, single_seconds = single_view_baseline(train, heldout, right)
    ridge = RidgeCV(alphas=np.logspace(-2, 3, 12)).fit(train[left], train[right])
    scores = {
        "MRD (rbf ARD, Q = 5), right from left": rmse(predicted.mean[:, 32:], truth),
        "single-view Bayesian GPLVM, all rows, right halves missing": rmse(single_view, truth),
        "ridge map left -> right (alpha by CV)": rmse(ridge.predict(heldout[left]), truth),
        "column means of the training rows": rmse(train[right].to_numpy().mean(axis=0), truth),
    }
    summary = {
        "rmse_right_half": scores,
        "mrd_95_coverage": float(inside.mean()),
        "view_relevance": exp.metrics["view_relevance"],
        "view_dims": exp.metrics["view_dims"],
        "elbo": exp.metrics["elbo"],
        "fit_seconds": seconds,
        "single_view_fit_seconds": single_seconds,
        "predict_seconds": predict_seconds,
        "n_train": len(train),
        "n_heldout": len(heldout),
    }
    (OUT / "comparison.json").write_text(json.dumps(summary, indent=2) + "\n")
    table = markdown.table(
        ["prediction of the right half", "RMSE (pixel units)"],
        scores.items(),
        lambda v: f"{v:.3f}" if isinstance(v, float) else str(v),
    )
    (OUT / "comparison.md").write_text(table + "\n")
    print(table)
    print(json.dumps({k: v for k, v in summary.items() if k != "rmse_right_half"}, indent=1))
    return summary


if __name__ == "__main__":
    main()
