"""Linear against rbf GPLVM against PCA on digits: latent plots side by side and 1-NN errors.

Run from the repository root:  python experiments/digits_kernels/run.py
Writes output/ beside this file (git ignores it): one run directory per kernel, comparison.png,
comparison.json and comparison.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from gplvm.config import load_config
from gplvm.evaluate.align import align_to
from gplvm.evaluate.baselines import pca_scores
from gplvm.evaluate.metrics import nearest_neighbour_error
from gplvm.evaluate.shading import latent_shading
from gplvm.plots import figures as plots
from gplvm.run import markdown
from gplvm.run.pipeline import fit_experiment, save_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
# Both learn beta (with the same prior), so that their log-likelihoods compare like with like.
MODELS = {"linear": ["model=linear", "model.learn.beta=true"], "rbf": ["model=rbf"]}


def _config(overrides: list[str]):
    return load_config("+experiment=digits_kernels", *overrides)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(f"{v:.3g}" for v in value)
    return "-" if value is None else str(value)


def main() -> dict:
    fits, walls = {}, {}
    for model, overrides in MODELS.items():
        cfg = _config(overrides)
        start = time.perf_counter()
        exp = fit_experiment(cfg)
        walls[model] = time.perf_counter() - start
        save_experiment(exp, OUT / f"{model}_run")
        fits[model] = exp
        print(f"{model}: 1-NN error {exp.record.knn_error:.3f} in {walls[model]:.1f} s")
    data = fits["linear"].data
    start = time.perf_counter()
    pca = pca_scores(data.Y, 2)
    pca_seconds = time.perf_counter() - start

    rows = {}
    for model, exp in fits.items():
        m = exp.metrics
        rows[f"GPLVM {model}"] = {
            "knn_error": m["knn_error"],
            "log_likelihood": m["log_likelihood"],
            "compile_seconds": m["compile_seconds"],
            "fit_seconds": m["fit_seconds"],
            "iterations": m["iterations"],
            "converged": m["converged"],
            "hyperparameters": m["hyperparameters"],
        }
    rows["PCA"] = {"knn_error": nearest_neighbour_error(pca, data.labels), "fit_seconds": pca_seconds}
    figures = {"n_obs": data.n_obs, "n_features": data.n_features, "latent_dim": 2, "rows": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "comparison.json").write_text(json.dumps(figures, indent=2) + "\n")
    keys = ["knn_error", "log_likelihood", "compile_seconds", "fit_seconds", "iterations", "converged"]
    table = markdown.table(
        ["method", *keys, "hyperparameters"],
        (
            [
                name,
                *(_fmt(r.get(k)) for k in keys),
                _fmt(json.dumps(r.get("hyperparameters"))) if "hyperparameters" in r else "-",
            ]
            for name, r in rows.items()
        ),
    )
    (OUT / "comparison.md").write_text(table + "\n")

    # Rotations and reflections are arbitrary; turn the linear panel to PCA's axes. The rbf panel
    # keeps its own axes, so that its variance shading stays in the same coordinates.
    rbf = fits["rbf"]
    Z_rbf = rbf.fit.point_estimate()
    panels = [
        (
            f"linear GPLVM MAP (1-NN error {rows['GPLVM linear']['knn_error']:.3f})",
            align_to(fits["linear"].fit.point_estimate(), pca),
        ),
        (f"rbf GPLVM MAP (1-NN error {rows['GPLVM rbf']['knn_error']:.3f})", Z_rbf),
        (f"PCA (1-NN error {rows['PCA']['knn_error']:.3f})", pca),
    ]
    shadings = [None, latent_shading(Z_rbf, rbf.metrics["hyperparameters"], rbf.spec), None]
    plots.save_latent_plot(OUT / "comparison.png", panels, data.labels, shadings)
    print(table)
    return figures


if __name__ == "__main__":
    main()
