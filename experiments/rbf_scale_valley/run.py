"""The rbf scale valley: iterations, time and 1-NN error with the isotropic length scale learned or fixed.

Run from the repository root:  python experiments/rbf_scale_valley/run.py [--quick]
Writes output/ beside this file (git ignores it): valley.json and valley.md. ``--quick`` skips
the learned-length-scale fit, which takes about 9,000 iterations (8 minutes here).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gplvm.config import load_config
from gplvm.run import markdown
from gplvm.run.pipeline import fit_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
VARIANTS = {
    "learned (starts at 1)": ["model.learn.lengthscale=true", "model.lengthscale=1.0"],
    "fixed 0.25": ["model.lengthscale=0.25"],
    "fixed 0.5 (preset)": [],
    "fixed 1.0": ["model.lengthscale=1.0"],
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the learned length scale")
    args = parser.parse_args(argv)
    rows = {}
    for name, overrides in VARIANTS.items():
        if args.quick and "learned" in name:
            continue
        start = time.perf_counter()
        exp = fit_experiment(load_config("+experiment=rbf_scale_valley", *overrides))
        m = exp.record
        Z = exp.fit.point_estimate()
        ell = float(np.asarray(m.hyperparameters["lengthscale"]))
        rows[name] = {
            "iterations": m.iterations,
            "converged": m.converged,
            "fit_seconds": m.fit_seconds,
            "wall_seconds": time.perf_counter() - start,
            "lengthscale": ell,
            "latent_sd": float(Z.std(axis=0).mean()),
            "latent_sd_in_lengthscales": float(Z.std(axis=0).mean() / ell),
            "knn_error": m.knn_error,
            "pca_knn_error": m.pca_knn_error,
        }
        print(f"{name}: {m.iterations} iterations, {m.fit_seconds:.1f} s, 1-NN error {m.knn_error:.3f}")
    OUT.mkdir(exist_ok=True)
    (OUT / "valley.json").write_text(json.dumps(rows, indent=2) + "\n")
    keys = ["variant", *next(iter(rows.values()))]
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    table = markdown.table(keys, ([name, *row.values()] for name, row in rows.items()), cell)
    (OUT / "valley.md").write_text(table + "\n")
    print(table)
    return rows


if __name__ == "__main__":
    main()
