"""``gplvm-project`` in ``make bench``: whole-process time to project new rows into fitted digits runs.

Two cases, the targets of the projection work: 50 new rows into a Bayesian GPLVM run with Q = 10
and M = 25 (each row's own q(z*)), and 10,000 new rows into a sparse rbf MAP with Q = 2 (a point
optimum and Laplace sd per row). The new rows are training rows plus noise (sd 0.3 in the data's
units). Each run is fitted first (not timed here), then ``gplvm-project`` is timed as a process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CASES = {
    "variational, Q = 10, M = 25": (
        ["model=rbf_ard", "model.latent_dim=10", "model.num_inducing=25", "inference=variational"],
        50,
    ),
    "sparse rbf MAP, Q = 2, M = 64": (["model=rbf", "model.likelihood=sparse"], 10_000),
}


def _new_rows(run_dir: Path, n_rows: int, path: Path) -> None:
    import pandas as pd

    import gplvm

    run = gplvm.load_run(run_dir)
    constant = run.tree.constant_data
    raw = run.training_data() * constant["feature_scale"].values + constant["feature_offset"].values
    rng = np.random.default_rng(0)
    rows = raw[rng.integers(0, len(raw), n_rows)] + 0.3 * rng.standard_normal((n_rows, raw.shape[1]))
    pd.DataFrame(rows, columns=[str(f) for f in constant["feature"].values]).to_csv(path, index=False)


def bench_projection(maxiter: int = 300) -> list[dict]:
    """Whole-process seconds of ``gplvm-project`` for each case, on digits runs fitted for ``maxiter``."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    rows = []
    for name, (overrides, n_rows) in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            run_dir, data = Path(tmp) / "run", Path(tmp) / "new.csv"
            fit = [
                sys.executable,
                "-m",
                "gplvm",
                "dataset=digits",
                *overrides,
                f"inference.maxiter={maxiter}",
            ]
            subprocess.run(
                [*fit, "plot=false", f"hydra.run.dir={run_dir}"], check=True, capture_output=True, env=env
            )
            _new_rows(run_dir, n_rows, data)
            project = Path(sys.executable).parent / "gplvm-project"
            start = time.perf_counter()
            subprocess.run(
                [str(project), str(run_dir), str(data), "--out", f"{tmp}/out"],
                check=True,
                capture_output=True,
                env=env,
            )
            wall = time.perf_counter() - start
            rows.append(
                {
                    "run": name,
                    "new_rows": n_rows,
                    "whole_process_s": wall,
                    "ms_per_row": 1e3 * wall / n_rows,
                    "target_s": 5.0 if n_rows == 50 else 30.0,
                }
            )
    return rows


def bench_back_constraint(repeats: int = 5) -> list[dict]:
    """Placing 300 held-out digits (1497 fitted) through a back-constrained run's g against
    optimising them, in one process: seconds per call (best of ``repeats``, warm) and the 1-NN
    accuracy of the placements against the training latents' labels; the free GPLVM's optimised
    projection beside them."""
    import pandas as pd
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier

    import gplvm

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    frame = pd.DataFrame(X[order]).add_prefix("p").assign(digit=y[order])
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        frame.iloc[300:].to_csv(f"{tmp}/train.csv", index=False)
        new, labels = frame.iloc[:300].drop(columns="digit").to_numpy(), y[order][:300]
        for name, extra in (("free", []), ("back_constrained", ["latent_prior=back_constrained"])):
            run_dir = Path(tmp) / name
            fit = [sys.executable, "-m", "gplvm", "dataset=file", f"dataset.path={tmp}/train.csv"]
            fit += [
                "dataset.label_column=digit",
                "model=rbf",
                "plot=false",
                *extra,
                f"hydra.run.dir={run_dir}",
            ]
            subprocess.run(fit, check=True, capture_output=True, env=env)
            run = gplvm.load_run(run_dir)
            knn = KNeighborsClassifier(1).fit(run.latents, run.tree.constant_data["label"].values.astype(int))
            ways = [("optimised", False)] + ([("through g", True)] if extra else [])
            for how, through in ways:
                seconds, placed = [], None
                for _ in range(repeats):
                    start = time.perf_counter()
                    placed = run.project(new, through_mapping=through)
                    seconds.append(time.perf_counter() - start)
                rows.append(
                    {
                        "run": name,
                        "placement": how,
                        "seconds": min(seconds),
                        "one_nn_accuracy": float(knn.score(placed.Z, labels)),
                    }
                )
    optimised = next(
        r["seconds"] for r in rows if r["run"] == "back_constrained" and r["placement"] == "optimised"
    )
    for row in rows:
        row["speedup_over_optimised"] = (
            optimised / row["seconds"] if row["run"] == "back_constrained" else None
        )
    return rows
