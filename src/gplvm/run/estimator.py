"""An array-in estimator in scikit-learn's conventions: ``GPLVM(latent_dim=2, model="rbf").fit(Y)``.

It is the command line's pipeline with an array for a dataset: the keyword arguments become
Hydra overrides of the same installed configs (``model="rbf"`` is ``model=rbf``,
``latent_dim=3`` is ``model.latent_dim=3``), so the defaults have one source, and a fitted
estimator holds the same DataTree and writes the same run directory as ``gplvm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from gplvm.config import load_config
from gplvm.data.dataset import Dataset, prepare
from gplvm.run.loaded import Run
from gplvm.run.pipeline import Experiment, fit_experiment, save_experiment

# The dataset that the composed config names; the estimator's array replaces it.
ARRAY_SOURCE = "(array passed to GPLVM.fit)"


class GPLVM(TransformerMixin, BaseEstimator):
    """A Gaussian Process Latent Variable Model fitted to an array.

    Parameters
    ----------
    latent_dim : int, optional
        Q, the latent dimension (``model.latent_dim``); None keeps the config's default (2).
    model : str, optional
        A model preset: ``linear`` (the default config), ``rbf``, ``rbf_ard`` or ``matern52``.
    inference : str, optional
        ``map`` (the default config), ``nuts`` or ``variational``.
    beta : float, optional
        The noise precision's fixed or starting value (``model.beta``).
    standardize : bool
        Scale each column to unit variance as well as centring it.
    missing : {"error", "allow"}
        ``allow`` models NaN cells column by column (``dataset.missing=allow``); ``error`` refuses them.
    seed : int
        The run's seed.
    overrides : sequence of str
        Further Hydra overrides, applied last, e.g. ``("model.learn.beta=true",)``.

    Attributes
    ----------
    experiment_ : Experiment
        The fitted experiment: data, fit, metrics and the DataTree.
    tree_ : xarray.DataTree
        The run's DataTree (as in ``posterior.nc``).
    embedding_ : ndarray, shape (n_samples, latent_dim)
        The fitted latents (the MAP, or the aligned posterior mean).
    n_features_in_ : int
        Columns seen by ``fit``.
    """

    def __init__(
        self,
        latent_dim: int | None = None,
        model: str | None = None,
        inference: str | None = None,
        beta: float | None = None,
        standardize: bool = False,
        missing: str = "error",
        seed: int = 0,
        overrides: Sequence[str] = (),
    ) -> None:
        self.latent_dim = latent_dim
        self.model = model
        self.inference = inference
        self.beta = beta
        self.standardize = standardize
        self.missing = missing
        self.seed = seed
        self.overrides = overrides

    def config_overrides(self) -> list[str]:
        """The Hydra overrides that these parameters stand for (groups first, then keys)."""
        out = ["dataset=file", f"dataset.path={ARRAY_SOURCE!r}", "plot=false", "copy_data_max_mb=1e9"]
        out += [f"model={self.model}"] if self.model is not None else []
        out += [f"inference={self.inference}"] if self.inference is not None else []
        out += [f"model.latent_dim={self.latent_dim}"] if self.latent_dim is not None else []
        out += [f"model.beta={self.beta}"] if self.beta is not None else []
        out += [f"dataset.standardize={str(bool(self.standardize)).lower()}", f"seed={self.seed}"]
        if self.missing not in ("error", "allow"):
            raise ValueError(f"missing={self.missing!r} is invalid: choose 'error' or 'allow'")
        out += [f"dataset.missing={self.missing}"]
        return out + list(self.overrides)

    def _validate(self, Y, reset: bool) -> np.ndarray:
        allow_nan = "allow-nan" if self.missing == "allow" else True
        # Two rows and two columns at least: one column leaves nothing to reduce.
        return validate_data(
            self,
            Y,
            reset=reset,
            ensure_all_finite=allow_nan,
            dtype=np.float64,
            copy=True,
            ensure_min_samples=2 if reset else 1,
            ensure_min_features=2 if reset else 1,
        )

    def fit(self, Y, y=None) -> GPLVM:
        """Fit the model to ``Y`` (n_samples, n_features); ``y`` is ignored.

        Returns
        -------
        GPLVM
            The fitted estimator.
        """
        Y = self._validate(Y, reset=True)
        cfg = load_config(*self.config_overrides())
        names = [f"x{j}" for j in range(Y.shape[1])]
        if hasattr(self, "feature_names_in_"):
            names = [str(name) for name in self.feature_names_in_]
        raw = (
            Y.copy() if self.missing == "allow" and np.isnan(Y).any() else None
        )  # prepare() centres Y in place
        centred, offset, scale = prepare(
            Y, "the array", cfg.dataset.standardize, self.missing == "allow", names
        )
        data = Dataset("array", centred, names, offset=offset, scale=scale, raw=raw)
        self.experiment_: Experiment = fit_experiment(cfg, data=data)
        self.tree_ = self.experiment_.idata
        self._run = Run(Path(ARRAY_SOURCE), self.experiment_.metrics, self.tree_)
        self.embedding_ = self._run.latents
        return self

    def fit_transform(self, Y, y=None) -> np.ndarray:
        """Fit to ``Y`` and return its latents, (n_samples, latent_dim)."""
        return self.fit(Y).embedding_

    def transform(self, Y) -> np.ndarray:
        """Latents of new rows, (n_samples, latent_dim), placed by the projection (``gplvm-project``)."""
        check_is_fitted(self)
        return self._run.project(self._validate(Y, reset=False)).Z

    def inverse_transform(self, Z) -> np.ndarray:
        """Reconstructed rows at latent points ``Z``: the predictive mean, in the data's units."""
        check_is_fitted(self)
        Z = np.atleast_2d(np.asarray(Z, dtype=float))
        return self._run.reconstruct(Z, original_units=True)[0]

    def score(self, Y, y=None) -> float:
        """Mean over rows of each row's objective at its projected latent: log p(y, z*) for point
        fits (and the mean over draws), the row's bound for a variational fit; higher is better."""
        check_is_fitted(self)
        return float(np.mean(self._run.project(self._validate(Y, reset=False)).objective))

    def save(self, run_dir: str | Path) -> Path:
        """Write a normal run directory (``posterior.nc``, ``latent.png``, ``metrics.json``, ...)
        that ``gplvm-inspect``, ``gplvm-project`` and ``gplvm.load_run`` read."""
        check_is_fitted(self)
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        save_experiment(self.experiment_, run_dir)
        return run_dir

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "experiment_")
