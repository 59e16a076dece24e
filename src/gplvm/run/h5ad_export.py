"""A run's latents as an AnnData file (``latents.h5ad``), for scanpy users' own plots.

A run on an ``.h5ad`` file writes it beside its other outputs; ``Run.write_h5ad`` writes it for
any run. ``obsm["X_gplvm"]`` holds each row's latent mean (q's mean for the Bayesian GPLVM, the
posterior mean of the aligned draws for NUTS, Z for a MAP) and ``obsm["X_gplvm_sd"]`` its sd (none
for a MAP).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from xarray import DataTree

from gplvm.config import FileDatasetConfig
from gplvm.data.h5ad import obs_names, write_latents
from gplvm.run import results

LATENTS_H5AD = "latents.h5ad"


def latent_summary(tree: DataTree) -> tuple[np.ndarray, np.ndarray | None]:
    """Each row's latent mean (N, Q) and sd (None for a point fit)."""
    if "variational" in tree:
        q = tree["variational"]
        return q["Z_mean"].values, np.sqrt(q["Z_var"].values)
    posterior = tree.posterior
    if "Z_aligned" in posterior:
        draws = posterior["Z_aligned"].values.reshape(-1, *posterior["Z_aligned"].shape[2:])
        return draws.mean(axis=0), draws.std(axis=0)
    return posterior["Z"].values[0, 0], None


def is_h5ad(dataset) -> bool:
    return isinstance(dataset, FileDatasetConfig) and Path(dataset.path).suffix.lower() == ".h5ad"


def row_names(dataset, n_obs: int) -> list[str]:
    """The rows' names: the cells' ``obs_names`` in the source ``.h5ad`` (the first ``n_obs``, as
    ``dataset.max_obs`` keeps) when the data came from one that is still there, else 0, 1, ..."""
    if is_h5ad(dataset) and Path(dataset.path).expanduser().is_file():
        return obs_names(Path(dataset.path).expanduser())[:n_obs]
    return [str(i) for i in range(n_obs)]


def write_run_h5ad(path: Path, tree: DataTree, names: list[str]) -> None:
    """``path`` (atomically): the latent means and sds of ``tree``'s rows, named ``names``."""
    mean, sd = latent_summary(tree)
    info = {key: tree.attrs.get(key) for key in ("gplvm_version", "method", "dataset", "latent_dim")}
    results.write_atomic(path, lambda tmp: write_latents(tmp, mean, sd, names, info))


def write_latents_h5ad(run_dir: Path, dataset, tree: DataTree, n_obs: int) -> None:
    """A run on an ``.h5ad`` file: its ``latents.h5ad``; other data sets: nothing."""
    if is_h5ad(dataset):
        write_run_h5ad(run_dir / LATENTS_H5AD, tree, row_names(dataset, n_obs))
