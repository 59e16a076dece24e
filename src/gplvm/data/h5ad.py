"""AnnData files (``.h5ad``), as single-cell data comes: cells are rows, genes columns.

Y is ``X`` (sparse or dense) or one of its ``layers``; labels and covariates are ``obs`` columns;
feature names are ``var_names``. anndata is imported when such a file is read, not at start-up.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gplvm.errors import DataError


@contextmanager
def _quiet():
    """anndata's own deprecation notices (pandas 3, its API) are not the user's to act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _read(path: Path):
    import anndata

    try:
        with _quiet():
            return anndata.read_h5ad(path)
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read {path} as an AnnData file: {str(exc).splitlines()[0]}") from None


def _layer_names(adata) -> list[str]:
    return [str(k) for k in adata.layers.keys() if k is not None]  # anndata 0.13 lists a None too


def _obs_column(adata, path: Path, column: str, setting: str) -> np.ndarray:
    if column not in adata.obs.columns:
        columns = list(adata.obs.columns)
        raise DataError(
            f"{setting}={column!r} is not an obs column of {path};"
            f" obs columns are {columns[:8]}{' ...' if len(columns) > 8 else ''}"
        )
    return adata.obs[column].astype(str).str.strip().to_numpy()


def read_h5ad(
    path: Path, layer: str | None, label_column: str | None
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Data (dense float64, cells x genes), labels from ``obs[label_column]`` and the gene names."""
    adata = _read(path)
    if layer is None:
        X = adata.X
        if X is None:
            raise DataError(
                f"{path} has no X; name a layer with dataset.layer (layers: {_layer_names(adata)})"
            )
    else:
        if layer not in adata.layers:
            raise DataError(
                f"dataset.layer={layer!r} is not a layer of {path}; layers are {_layer_names(adata)}"
            )
        X = adata.layers[layer]
    Y = np.array(X.toarray() if hasattr(X, "toarray") else X, dtype=float)
    labels = None if label_column is None else _obs_column(adata, path, label_column, "dataset.label_column")
    return Y, labels, [str(name) for name in adata.var_names]


def read_obs_columns(path: Path, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Named ``obs`` columns as text (covariates, groups)."""
    adata = _read(path)
    return {c: _obs_column(adata, path, c, "covariate column") for c in columns}


def obs_names(path: Path) -> list[str]:
    """The cells' names (``obs_names``) of an ``.h5ad`` file."""
    return [str(name) for name in _read(path).obs_names]


def write_latents(
    path: Path, mean: np.ndarray, sd: np.ndarray | None, names: Sequence[str], info: dict[str, object]
) -> None:
    """An ``.h5ad`` with one row per cell (``obs_names`` = ``names``), no genes,
    ``obsm["X_gplvm"]`` (latent means), ``obsm["X_gplvm_sd"]`` (their sds, when known) and
    ``uns["gplvm"]`` (``info``): ``adata.obsm["X_gplvm"] = latents.obsm["X_gplvm"]`` adds them to
    the user's own object, for ``scanpy.pl.embedding(adata, basis="gplvm")``."""
    import anndata
    import pandas as pd

    obsm = {"X_gplvm": np.asarray(mean, dtype=float)}
    if sd is not None:
        obsm["X_gplvm_sd"] = np.asarray(sd, dtype=float)
    with _quiet():
        adata = anndata.AnnData(
            obs=pd.DataFrame(index=pd.Index([str(n) for n in names], name="cell")),
            obsm=obsm,
            uns={"gplvm": {k: v for k, v in info.items() if v is not None}},
        )
        adata.write_h5ad(path)
