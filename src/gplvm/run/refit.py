"""Exact K-fold over the features of a loaded run, refitting it with its own config
(``gplvm-compare --kfold``). Kept apart from :mod:`gplvm.run.comparison`: it loads the fit methods
(PyMC), which comparing stored results does not need."""

from __future__ import annotations

import numpy as np

from gplvm.config import inference_config_from_yaml
from gplvm.data.dataset import Dataset
from gplvm.evaluate import elpd
from gplvm.inference import method_for
from gplvm.run.comparison import CompareError
from gplvm.run.loaded import Run


def kfold_now(run: Run, folds: int, seed: int):
    """Exact K-fold over the run's fitted columns, refitting with its own config."""
    if not run.tree.attrs.get("config"):
        raise CompareError(f"{run.path}: the run does not record its config, so it cannot be refitted")
    inference, fit_seed = inference_config_from_yaml(run.tree.attrs["config"])
    features = [str(f) for f in run.tree.constant_data["feature"].values]
    data = Dataset(str(run.tree.attrs.get("dataset", "data")), np.asarray(run.training_data()), features)
    result, _ = elpd.kfold(data, run.spec, method_for(inference), fit_seed, folds, seed, lppd_of(run, data))
    return result


def lppd_of(run, data) -> np.ndarray:
    """The run's log pointwise predictive density per feature: over its draws, or at its point."""
    if "log_likelihood" in run.tree:
        return elpd.lppd(run.tree["log_likelihood"]["Y"].values)
    return run.spec.column_log_likelihoods(run.latents, data.Y, run.hyperparameters)
