"""AnnData files (.h5ad): X (sparse or dense) or a layer, obs labels and covariates, gene names,
and a run's latents written back for scanpy."""

from __future__ import annotations

import json

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gplvm.config import load_config
from gplvm.data.files import read_columns
from gplvm.data.loading import load_dataset
from gplvm.errors import DataError


def write_cells(path, n_cells: int = 60, n_genes: int = 8, seed: int = 0):
    """Counts as a sparse X, log1p counts as a layer, cell types and a time in obs."""
    rng = np.random.default_rng(seed)
    rate = np.exp(rng.normal(0.5, 0.8, (n_cells, n_genes)))
    counts = rng.poisson(rate).astype(float)
    adata = anndata.AnnData(
        X=sp.csr_matrix(counts),
        obs=pd.DataFrame(
            {"cell_type": rng.choice(["B", "T", "NK"], n_cells), "time": np.linspace(0, 1, n_cells)},
            index=[f"cell{i}" for i in range(n_cells)],
        ),
        var=pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)]),
        layers={"log1p": np.log1p(counts)},
    )
    adata.write_h5ad(path)
    return adata, counts


def test_an_h5ad_file_reads_back_to_its_matrix_labels_and_names(tmp_path):
    adata, counts = write_cells(tmp_path / "cells.h5ad")
    cfg = load_config(
        "dataset=file", f"dataset.path={tmp_path / 'cells.h5ad'}", "dataset.label_column=cell_type"
    )
    data = load_dataset(cfg.dataset)
    np.testing.assert_allclose(data.to_original_units(data.Y), counts)  # sparse X, densified
    assert data.feature_names == [f"gene{j}" for j in range(8)]
    np.testing.assert_array_equal(data.labels, adata.obs["cell_type"].to_numpy())
    layered = load_dataset(
        load_config("dataset=file", f"dataset.path={tmp_path / 'cells.h5ad'}", "dataset.layer=log1p").dataset
    )
    np.testing.assert_allclose(layered.to_original_units(layered.Y), np.log1p(counts))
    times = read_columns(tmp_path / "cells.h5ad", ["time"])["time"]
    np.testing.assert_allclose(times.astype(float), adata.obs["time"].to_numpy())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["dataset.layer=spliced"], r"dataset\.layer='spliced' is not a layer of .*layers are \['log1p'\]"),
        (["dataset.label_column=tissue"], r"dataset\.label_column='tissue' is not an obs column"),
    ],
)
def test_a_missing_layer_or_obs_column_is_one_line(tmp_path, overrides, message):
    write_cells(tmp_path / "cells.h5ad")
    cfg = load_config("dataset=file", f"dataset.path={tmp_path / 'cells.h5ad'}", *overrides)
    with pytest.raises(DataError, match=message) as info:
        load_dataset(cfg.dataset)
    assert "\n" not in str(info.value)


def test_a_layer_needs_an_h5ad_file(tmp_path):
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.5]}).to_csv(tmp_path / "t.csv", index=False)
    cfg = load_config("dataset=file", f"dataset.path={tmp_path / 't.csv'}", "dataset.layer=counts")
    with pytest.raises(DataError, match=r"names a layer of an \.h5ad file"):
        load_dataset(cfg.dataset)


def test_a_run_on_an_h5ad_file_writes_its_latents_as_h5ad(tmp_path):
    """The CLI on cells.h5ad: latents.h5ad with the cells' names, obsm X_gplvm (q's means) and
    X_gplvm_sd (q's sds); a loaded run writes the same with Run.write_h5ad."""
    import gplvm
    from tests.cli.test_cli import run_gplvm

    write_cells(tmp_path / "cells.h5ad")
    run = tmp_path / "run"
    done = run_gplvm(
        run,
        "dataset=file",
        f"dataset.path={tmp_path / 'cells.h5ad'}",
        "dataset.layer=log1p",
        "dataset.label_column=cell_type",
        "model=rbf_ard",
        "model.num_inducing=10",
        "inference=variational",
        "inference.maxiter=100",
        "plot=false",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"
    latents = anndata.read_h5ad(run / "latents.h5ad")
    loaded = gplvm.load_run(run)
    q = loaded.tree["variational"]
    assert list(latents.obs_names) == [f"cell{i}" for i in range(60)]
    np.testing.assert_allclose(latents.obsm["X_gplvm"], q["Z_mean"].values)
    np.testing.assert_allclose(latents.obsm["X_gplvm_sd"], np.sqrt(q["Z_var"].values))
    assert latents.uns["gplvm"]["method"] == "variational"
    again = anndata.read_h5ad(loaded.write_h5ad(tmp_path / "again.h5ad"))
    np.testing.assert_allclose(again.obsm["X_gplvm"], latents.obsm["X_gplvm"])
    assert list(again.obs_names) == list(latents.obs_names)


def test_a_multi_view_run_on_an_h5ad_file_writes_its_latents_too(tmp_path):
    """Two views of the genes, fitted by a short MAP: latents.h5ad names the cells and holds Z."""
    from gplvm.run.views_pipeline import fit_views_experiment, save_views_experiment

    write_cells(tmp_path / "cells.h5ad")
    cfg = load_config(
        "dataset=file",
        f"dataset.path={tmp_path / 'cells.h5ad'}",
        "dataset.layer=log1p",
        "+dataset.views.a=0:4",
        "+dataset.views.b=4:8",
        "model=rbf_ard",
        "model.num_inducing=8",
        "inference=map",
        "inference.maxiter=30",
    )
    exp = fit_views_experiment(cfg, load_dataset(cfg.dataset))
    save_views_experiment(exp, tmp_path / "run", plot=False)
    latents = anndata.read_h5ad(tmp_path / "run" / "latents.h5ad")
    assert list(latents.obs_names) == [f"cell{i}" for i in range(60)]
    np.testing.assert_allclose(latents.obsm["X_gplvm"], exp.fit.q.mean)
    assert "X_gplvm_sd" not in latents.obsm  # a MAP has no sds
