"""Linear GPLVM against PCA on digits: the MAP, the analytic optimum and PCA side by side.

Run from the repository root:  python experiments/digits_linear_vs_pca/run.py
Writes output/ beside this file (git ignores it): the GPLVM run directory, comparison.png,
comparison.json and comparison.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from gplvm.config import load_config
from gplvm.evaluate.align import align_to
from gplvm.evaluate.baselines import pca_scores, subspace_angles_deg
from gplvm.model.analytic import analytic_optimum
from gplvm.plots import figures as plots
from gplvm.run.pipeline import fit_experiment, save_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"


def main() -> dict:
    cfg = load_config("+experiment=digits_linear_vs_pca")

    exp = fit_experiment(cfg)
    save_experiment(exp, OUT / "gplvm_run")
    Y, q, m = exp.data.Y, cfg.model.latent_dim, cfg.model

    start = time.perf_counter()
    optimum = analytic_optimum(Y, q, m.beta, m.prior_scale)
    analytic_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pca = pca_scores(Y, q)
    pca_seconds = time.perf_counter() - start

    Z = exp.fit.point_estimate()
    figures = {
        "map_analytic_gap": exp.metrics["analytic_gap"],
        "map_analytic_gap_relative": exp.metrics["analytic_gap_relative"],
        "map_gram_rel_error": exp.metrics["gram_rel_error"],
        "max_angle_map_vs_pca_deg": float(subspace_angles_deg(Z, pca).max()),
        "max_angle_analytic_vs_pca_deg": float(subspace_angles_deg(optimum.Z, pca).max()),
        "axis_shrinkage_l_over_sigma": (
            np.linalg.norm(optimum.Z, axis=0) / np.linalg.norm(pca, axis=0)
        ).tolist(),
        "map_compile_seconds": exp.metrics["compile_seconds"],
        "map_fit_seconds": exp.metrics["fit_seconds"],
        "analytic_seconds": analytic_seconds,
        "pca_seconds": pca_seconds,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "comparison.json").write_text(json.dumps(figures, indent=2) + "\n")
    rows = "\n".join(f"| {k} | {v if isinstance(v, list) else f'{v:.4g}'} |" for k, v in figures.items())
    (OUT / "comparison.md").write_text(f"| figure | value |\n|---|---|\n{rows}\n")
    # Rotations and reflections are arbitrary; turn both GPLVM panels to PCA's axes.
    panels = [
        ("GPLVM MAP from random init (rotated to PCA axes)", align_to(Z, pca)),
        ("analytic optimum (rotated to PCA axes)", align_to(optimum.Z, pca)),
        ("PCA scores", pca),
    ]
    plots.save_latent_plot(OUT / "comparison.png", panels, exp.data.labels)
    print((OUT / "comparison.md").read_text())
    return figures


if __name__ == "__main__":
    main()
