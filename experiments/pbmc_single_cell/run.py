"""Real single-cell data: 700 PBMCs (scanpy's bundled pbmc68k_reduced), their cell types in the
latent space of the minibatch SVI fit, of the Bayesian GPLVM fitted by L-BFGS-B on the collapsed
bound, and of PCA.

Run from the repository root:  make experiment NAME=pbmc_single_cell
(scanpy, the ``experiments`` extra, ships the file; it is read through anndata, scanpy is not
imported; the file is copied to output/ first). Writes output/ beside this file (git ignores it):
pbmc68k_reduced.h5ad, one run directory per fit, comparison.json and comparison.md.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

from gplvm.config import load_config
from gplvm.run import markdown
from gplvm.run.pipeline import fit_experiment, save_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
FITS = {  # name: overrides of conf/experiment/pbmc_single_cell.yaml
    "minibatch SVI (inference=svi)": ["inference=svi"],
    "Bayesian GPLVM, collapsed bound (inference=variational)": ["inference=variational"],
}


def bundled_file() -> Path:
    """scanpy's pbmc68k_reduced.h5ad, found without importing scanpy."""
    spec = importlib.util.find_spec("scanpy")
    if spec is None:
        raise SystemExit("scanpy is not installed: make experiment installs the experiments extra")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "10x_pbmc68k_reduced.h5ad"


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}"


def main() -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundled_file(), OUT / "pbmc68k_reduced.h5ad")  # where the overlay reads it
    rows, record = {}, None
    for name, overrides in FITS.items():
        cfg = load_config("+experiment=pbmc_single_cell", *overrides)
        start = time.perf_counter()
        exp = fit_experiment(cfg)
        seconds = time.perf_counter() - start
        save_experiment(exp, OUT / cfg.inference.method)
        record = exp.record
        rows[name] = {"knn_error": record.knn_error, "elbo": record.elbo, "seconds": seconds}
    rows["PCA (2 dims)"] = {"knn_error": record.pca_knn_error, "elbo": None, "seconds": None}
    summary = {"n_obs": record.n_obs, "n_features": record.n_features, "fits": rows}
    (OUT / "comparison.json").write_text(json.dumps(summary, indent=2) + "\n")
    table = markdown.table(
        ["latent space (Q = 2)", "1-NN error of the 10 cell types", "ELBO", "whole fit (s)"],
        [(name, r["knn_error"], r["elbo"], r["seconds"]) for name, r in rows.items()],
        _cell,
    )
    (OUT / "comparison.md").write_text(table + "\n")
    print(table)
    return summary


if __name__ == "__main__":
    main()
