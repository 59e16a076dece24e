"""Digits with the label as a view, half of the labels hidden: the semi-supervised GPLVM's
predicted labels against 1-NN in the latent space of a label-free fit.

Run from the repository root:  make experiment NAME=digits_label_view
Writes output/ beside this file (git ignores it): the label-view run (with predicted_labels.csv),
the label-free run, comparison.json and comparison.md.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from gplvm.config import load_config
from gplvm.data.loading import load_dataset
from gplvm.run import markdown
from gplvm.run.pipeline import fit_experiment, save_experiment
from gplvm.run.views_pipeline import fit_views_experiment, save_views_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
CONFIDENCE_BINS = (0.0, 0.5, 0.8, 0.95, 1.0)


def one_nn_accuracy(latents: np.ndarray, labels: np.ndarray, hidden: np.ndarray) -> float:
    """1-NN from the rows that keep their label to the hidden ones."""
    knn = KNeighborsClassifier(n_neighbors=1).fit(latents[~hidden], labels[~hidden])
    return float(np.mean(knn.predict(latents[hidden]) == labels[hidden]))


def reliability(confidence: np.ndarray, correct: np.ndarray) -> list[dict]:
    """Per bin of the predicted label's probability: rows, mean probability, share right."""
    out = []
    for lo, hi in itertools.pairwise(CONFIDENCE_BINS):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            out.append(
                {
                    "bin": f"({lo:g}, {hi:g}]",
                    "rows": int(inside.sum()),
                    "mean_probability": float(confidence[inside].mean()),
                    "accuracy": float(correct[inside].mean()),
                }
            )
    return out


def main() -> dict:
    cfg = load_config("+experiment=digits_label_view")
    data = load_dataset(cfg.dataset)
    hidden = data.label_view.hidden
    labels = np.asarray(data.labels).astype(str)
    start = time.perf_counter()
    exp = fit_views_experiment(cfg, data)
    seconds = time.perf_counter() - start
    save_views_experiment(exp, OUT / "label_view")
    predicted = exp.labels
    correct = predicted.labels == labels[predicted.rows]

    free_cfg = load_config(
        "dataset=digits",
        "model=rbf_ard",
        "model.latent_dim=5",
        "model.likelihood=sparse",
        "inference=variational",
    )
    start = time.perf_counter()
    free = fit_experiment(free_cfg)
    free_seconds = time.perf_counter() - start
    save_experiment(free, OUT / "label_free")
    free_latents = free.idata["variational"]["Z_mean"].values
    pixels = data.Y[:, : -len(data.label_view.classes)]
    scores = {
        "label view (MRD), predicted label": float(np.mean(correct)),
        "1-NN in the label-free Bayesian GPLVM's latent space (Q = 5)": one_nn_accuracy(
            free_latents, labels, hidden
        ),
        "1-NN in the label-view fit's latent space": one_nn_accuracy(exp.fit.q.mean, labels, hidden),
        "1-NN in PCA (5 components)": one_nn_accuracy(PCA(5).fit_transform(pixels), labels, hidden),
        "1-NN on the 64 pixels": one_nn_accuracy(pixels, labels, hidden),
    }
    summary = {
        "accuracy_on_hidden_labels": scores,
        "label_confidence": exp.metrics["label_confidence"],
        "reliability": reliability(predicted.confidence, correct),
        "view_relevance": exp.metrics["view_relevance"],
        "view_dims": exp.metrics["view_dims"],
        "fit_seconds": seconds,
        "label_free_fit_seconds": free_seconds,
        "n_rows": data.n_obs,
        "n_hidden": int(hidden.sum()),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "comparison.json").write_text(json.dumps(summary, indent=2) + "\n")
    table = markdown.table(
        ["classifier of the hidden labels", "accuracy"],
        scores.items(),
        lambda v: f"{v:.3f}" if isinstance(v, float) else str(v),
    )
    (OUT / "comparison.md").write_text(table + "\n")
    print(table)
    print(json.dumps({k: v for k, v in summary.items() if k != "accuracy_on_hidden_labels"}, indent=1))
    return summary


if __name__ == "__main__":
    main()
