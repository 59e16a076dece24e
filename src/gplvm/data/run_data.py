"""The data a run was fitted on: copied into ``posterior.nc``, or referenced and checked by hash.

Small data is stored in the run (``constant_data/Y``), so the run directory stands alone. Above
``copy_data_max_mb`` a copy would cost as much disk as the data for every job of a sweep, so the
run records instead where the data came from (the file's path, or the config that generates it),
its shape, dtype and a SHA-256 of the training array. Readers reload it from there when they
need it and refuse, with one line, data whose hash no longer matches.
"""

from __future__ import annotations

import hashlib

import numpy as np
from omegaconf import OmegaConf
from xarray import DataTree

from gplvm.config import Config, dataset_config_from_yaml
from gplvm.data.dataset import Dataset
from gplvm.data.heldout import split_features
from gplvm.data.loading import load_dataset
from gplvm.errors import GPLVMError, RunDirectoryError


def fingerprint(Y: np.ndarray) -> str:
    """SHA-256 of the array's float64 values in C order (about 1 s per GB)."""
    return hashlib.sha256(np.ascontiguousarray(Y, dtype=np.float64).data).hexdigest()


# constant_data holds each covariate column (a latent prior's inputs and group) under this prefix.
COVARIATE_PREFIX = "covariate_"


def data_attrs(data: Dataset, cfg: Config) -> tuple[bool, dict[str, str | int]]:
    """Whether to store Y in the run, and the attrs that describe (and can recreate) it."""
    store = data.Y.nbytes <= cfg.copy_data_max_mb * 2**20
    dataset = OmegaConf.structured(cfg.dataset)
    if "path" in data.attrs:  # a file: remember it absolutely, the run may be read from elsewhere
        dataset.path = str(data.attrs["path"])
    attrs: dict[str, str | int] = {
        "data_stored": int(store),
        "data_source": str(data.attrs.get("path", "the dataset config in dataset_config")),
        "data_shape": " x ".join(str(n) for n in data.Y.shape),
        "data_dtype": str(data.Y.dtype),
        "data_sha256": fingerprint(data.Y),
        "dataset_config": OmegaConf.to_yaml(dataset),
        "heldout_fraction": cfg.heldout.fraction,
        "heldout_seed": cfg.heldout.seed,
    }
    return store, attrs


def training_data(tree: DataTree) -> np.ndarray:
    """Y as the run was fitted on it: the stored copy, or reloaded and checked against its hash.

    Raises
    ------
    RunDirectoryError
        One line, when the source is gone, cannot be read or no longer has the recorded hash.
    """
    if "Y" in tree.constant_data:
        return tree.constant_data["Y"].values
    attrs = tree.attrs
    if "dataset_config" not in attrs:
        raise RunDirectoryError("the run holds no copy of its data and no reference to it")

    source = attrs["data_source"]
    try:
        dataset = load_dataset(dataset_config_from_yaml(attrs["dataset_config"]))
        data, _, _ = split_features(dataset, float(attrs["heldout_fraction"]), int(attrs["heldout_seed"]))
    except GPLVMError as exc:
        raise RunDirectoryError(f"the run's data cannot be reloaded from {source}: {exc}") from None
    shape = " x ".join(str(n) for n in data.Y.shape)
    if shape != attrs["data_shape"] or fingerprint(data.Y) != attrs["data_sha256"]:
        raise RunDirectoryError(
            f"{source} has changed since the run (shape {shape}, recorded {attrs['data_shape']};"
            f" SHA-256 differs from the recorded {attrs['data_sha256'][:12]}...): refit, or restore the data"
        )
    return data.Y
