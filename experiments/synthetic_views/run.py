"""Synthetic shared and private signals: does MRD's relevance matrix find which latent dims each
view uses?

Run from the repository root:  make experiment NAME=synthetic_views
Writes output/ beside this file (git ignores it): views_seed<k>.csv (the data of each seed), the
runs (each with view_relevance.png), relevance.json and relevance.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gplvm.config import load_config
from gplvm.data.loading import load_dataset
from gplvm.model.views import RELEVANCE_THRESHOLD, shared_and_private
from gplvm.run import markdown
from gplvm.run.views_pipeline import fit_views_experiment, save_views_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
SEEDS = range(5)
N_ROWS, N_COLUMNS, NOISE_SD = 300, 10, 0.05


def write_data(seed: int) -> Path:
    """Three signals uniform on [-1, 1]: one shared by views A and B, one private to each. Each
    view is 10 columns of sin(1.5 x) of a random mix of its two signals, plus noise."""
    rng = np.random.default_rng(seed)
    shared, own_a, own_b = rng.uniform(-1, 1, (3, N_ROWS))

    def view(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.sin(1.5 * np.column_stack([u, v]) @ rng.standard_normal((2, N_COLUMNS)))

    Y = np.hstack([view(shared, own_a), view(shared, own_b)])
    Y += NOISE_SD * rng.standard_normal(Y.shape)
    columns = [f"a{j}" for j in range(N_COLUMNS)] + [f"b{j}" for j in range(N_COLUMNS)]
    path = OUT / f"views_seed{seed}.csv"
    OUT.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(Y, columns=columns).to_csv(path, index=False)
    return path


def recovered(kinds: dict) -> bool:
    """One dim shared by A and B, one private to each, and the fourth unused."""
    found = sorted((k["kind"], tuple(k["views"])) for k in kinds.values())
    return found == [("private", ("A",)), ("private", ("B",)), ("shared", ("A", "B")), ("unused", ())]


def main() -> dict:
    rows, results = [], {}
    for seed in SEEDS:
        cfg = load_config("+experiment=synthetic_views", f"dataset.path={write_data(seed)}", f"seed={seed}")
        start = time.perf_counter()
        exp = fit_views_experiment(cfg, load_dataset(cfg.dataset))
        seconds = time.perf_counter() - start
        save_views_experiment(exp, OUT / f"seed{seed}")
        matrix = exp.fit.relevance
        kinds = shared_and_private(matrix, ["A", "B"])
        used = matrix > RELEVANCE_THRESHOLD
        results[seed] = {
            "relevance": matrix.round(4).tolist(),
            "dims": kinds,
            "recovered": recovered(kinds),
            "smallest_used": float(matrix[used].min()),
            "largest_unused": float(matrix[~used].max()) if (~used).any() else None,
            "fit_seconds": seconds,
        }
        fmt = ", ".join
        rows.append(
            (
                seed,
                fmt(f"{x:.2f}" for x in matrix[0]),
                fmt(f"{x:.2f}" for x in matrix[1]),
                fmt(f"{q}: {k['kind']} {'+'.join(k['views'])}".strip() for q, k in kinds.items()),
                "yes" if results[seed]["recovered"] else "no",
            )
        )
    (OUT / "relevance.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown.table(["seed", "relevance A", "relevance B", "dims", "recovered"], rows, str)
    (OUT / "relevance.md").write_text(table + "\n")
    print(table)
    return results


if __name__ == "__main__":
    main()
