"""Write the small run directories stored in tests/data/runs/ (run from the repository root).

They are what ``gplvm`` writes, kept in the repository as ArviZ keeps its example netCDF files:
``gplvm-inspect`` and the Python readers must keep reading runs written by earlier versions.
Regenerate only when the run-directory format changes on purpose:

    .venv/bin/python tests/data/make_stored_runs.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gplvm.config import load_config
from gplvm.pipeline import fit_experiment, save_experiment

RUNS = {
    "nuts_linear": [
        "dataset=synthetic",
        "dataset.n_obs=12",
        "dataset.n_features=5",
        "inference=nuts",
        "inference.draws=30",
        "inference.tune=30",
        "inference.progressbar=false",
    ],
    "map_rbf_ard": [
        "dataset=curve",
        "dataset.n_obs=20",
        "dataset.n_features=4",
        "model=rbf_ard",
        "model.latent_dim=2",
    ],
}

if __name__ == "__main__":
    root = Path(__file__).resolve().parent / "runs"
    for name, overrides in RUNS.items():
        shutil.rmtree(root / name, ignore_errors=True)
        save_experiment(fit_experiment(load_config(*overrides, "plot=false")), root / name, plot=False)
        print(f"wrote {root / name}")
