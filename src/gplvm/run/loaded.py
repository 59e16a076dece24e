"""A completed run directory, loaded: :func:`load_run` (``gplvm.load_run``) and its :class:`Run`,
which gives the config, the training data, the fitted latents and hyperparameters, the DataTree,
reconstructions and projections of new rows."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import arviz as az
import numpy as np
from omegaconf import OmegaConf

from gplvm.config import (
    CovariatePriorConfig,
    dataset_config_from_yaml,
    latent_prior_config_from_yaml,
    model_config_from_yaml,
)
from gplvm.data.run_data import COVARIATE_PREFIX, training_data
from gplvm.errors import RunDirectoryError
from gplvm.evaluate.across_views import AcrossViews, predict_across_views
from gplvm.evaluate.align import procrustes_rotations
from gplvm.evaluate.along_inputs import AlongInputs, predict_along_inputs
from gplvm.evaluate.projection import Projection, project, project_through_mapping, project_variational
from gplvm.evaluate.record import RunMetrics
from gplvm.inference.blas_threads import one_blas_thread
from gplvm.inference.multiview import view_specs
from gplvm.model.latent_priors import QMoments, make_latent_prior
from gplvm.model.latent_priors.back_constraint import CENTRES, LENGTHSCALE, WEIGHTS, BackConstraint
from gplvm.model.spec import ModelSpec
from gplvm.run import lifecycle, results
from gplvm.run.h5ad_export import row_names, write_run_h5ad


@dataclass
class Run:
    """A completed run directory, loaded."""

    path: Path
    metrics: dict
    tree: object  # xarray.DataTree

    @property
    def record(self) -> RunMetrics:
        """``metrics.json`` as the typed record."""
        return RunMetrics.from_dict(self.metrics)

    @property
    def has_draws(self) -> bool:
        """Whether the posterior holds draws (aligned by the pipeline) rather than one point."""
        return "Z_aligned" in self.tree.posterior

    def training_data(self) -> np.ndarray:
        """Y as fitted: the stored copy, or reloaded from its source and checked by hash."""
        return training_data(self.tree)

    @functools.cached_property
    def spec(self) -> ModelSpec | None:
        """The run's ModelSpec, from the model config in its attrs (None if absent).

        Built once: the latent plot's analytic overlay and its shading both ask for it.
        """
        text = self.tree.attrs.get("model_config")
        if not text:
            return None
        spec = ModelSpec.from_config(model_config_from_yaml(text))
        prior = latent_prior_config_from_yaml(self.tree.attrs.get("config", ""))
        if isinstance(prior, CovariatePriorConfig):
            constant = self.tree.constant_data
            covariates = {
                name.removeprefix(COVARIATE_PREFIX): constant[name].values.astype(str)
                for name in constant.data_vars
                if name.startswith(COVARIATE_PREFIX)
            }
            structured = make_latent_prior(prior, covariates, spec.prior_scale, spec.latent_dim)
            spec = replace(spec, latent_prior=structured)
        if CENTRES in self.tree.constant_data:
            constant = self.tree.constant_data
            mapping = BackConstraint(
                centres=constant[CENTRES].values,
                lengthscale=float(constant[LENGTHSCALE].values),
                weight_scale=float(self.record.latent_prior["weight_scale"]),
            )
            spec = replace(spec, back_constraint=mapping)
        return spec

    @property
    def config(self):
        """The composed config the run was started with, as an OmegaConf ``DictConfig``."""
        return OmegaConf.create(self.tree.attrs.get("config") or "{}")

    def write_h5ad(self, path: str | Path) -> Path:
        """Write the latent means and sds as an AnnData file (``obsm["X_gplvm"]``,
        ``obsm["X_gplvm_sd"]``; see :mod:`gplvm.run.h5ad_export`), rows named as in the source
        ``.h5ad`` when the run read one and it is still there, else 0, 1, ..."""
        text = self.tree.attrs.get("dataset_config")
        dataset = dataset_config_from_yaml(text) if text else None
        write_run_h5ad(Path(path), self.tree, row_names(dataset, self.record.n_obs))
        return Path(path)

    @property
    def latents(self) -> np.ndarray:
        """The fitted latents (N, Q): the MAP, or for draws the aligned reference (their mean)."""
        if self.has_draws:
            return self.tree["alignment"]["Z_reference"].values
        return self.tree.posterior["Z"].values[0, 0]

    @functools.cached_property
    def hyperparameters(self) -> dict[str, np.ndarray]:
        """Fitted (MAP, or posterior-mean) and fixed hyperparameters, plus the sparse form's ``inducing``.

        Read once: the posterior is read lazily from its file.
        """
        posterior = self.tree.posterior.to_dataset()
        values = {**self.record.hyperparameters, **self.spec.form_values(posterior)}
        return {name: np.asarray(value, dtype=float) for name, value in values.items()}

    def _units(self) -> tuple[np.ndarray, np.ndarray]:
        """(feature_offset, feature_scale): raw = fitted * scale + offset, column by column."""
        constant = self.tree.constant_data
        if "feature_offset" not in constant:
            raise ValueError(f"{self.path} was written before runs recorded their centring; refit it")
        return constant["feature_offset"].values, constant["feature_scale"].values

    def to_fitted_units(self, rows: np.ndarray) -> np.ndarray:
        """Raw rows (n, D) in the run's fitted units: its own centring and scaling of each column."""
        offset, scale = self._units()
        return (np.asarray(rows, dtype=float) - offset) / scale

    def projection_fits(self, max_draws: int = 20) -> list[tuple[np.ndarray, dict, np.ndarray]]:
        """(training latents, hyperparameters, rotation into the common frame) to project under.

        A point estimate gives one; draws give up to ``max_draws``, evenly spaced, each in its own
        frame (where its hyperparameters and inducing inputs live) with the rotation that aligned it.
        """
        if not self.has_draws:
            return [(self.latents, self.hyperparameters, np.eye(self.latents.shape[1]))]
        post = self.tree.posterior.to_dataset()
        aligned = post["Z_aligned"].values.reshape(-1, *post["Z_aligned"].shape[2:])
        return [
            (Z, hyper, procrustes_rotations(Z, aligned[i])) for i, Z, hyper in self.spec.fits(post, max_draws)
        ]

    @one_blas_thread
    def predict_views(self, rows: np.ndarray) -> AcrossViews:
        """A multi-view run: new raw rows (n*, D; NaN where a view or cell is not observed), each
        row's q(z*) from its observed views and every column's predictive mean and sd, in the
        data's units (see :mod:`gplvm.evaluate.across_views`)."""
        if not self.record.views:
            raise ValueError(f"{self.path} has one view: use project() or reconstruct()")
        model = model_config_from_yaml(self.tree.attrs["model_config"])
        view_of = self.tree.constant_data["feature_view"].values.astype(str)
        columns = {name: np.flatnonzero(view_of == name) for name in self.record.views}
        views = view_specs(model, self.record.n_obs, columns, self.record.label_view)
        posterior = self.tree.posterior.to_dataset()
        point = {name: posterior[name].values[0, 0] for name in posterior.data_vars if name != "Z"}
        if "variational" in self.tree:
            q = self.tree["variational"]
            moments = QMoments(q["Z_mean"].values, q["Z_var"].values)
        else:  # a MAP: its Z, with variance 0
            moments = QMoments(self.latents, np.zeros_like(self.latents))
        values = {view.name: view.values(point) for view in views}
        offset, scale = self._units()
        out = predict_across_views(
            views,
            values,
            moments,
            self.training_data(),
            self.to_fitted_units(rows),
            model.prior_scale,
            int(self.config.get("seed", 0)),
            self.record.label_view,
        )
        return replace(out, mean=out.mean * scale + offset, sd=out.sd * scale)

    def _refuse_unbuilt(self, what: str) -> None:
        if self.record.views:
            raise ValueError(
                f"{self.path} has several views (dataset.views): {what} is not built for them;"
                " predict_views() places new rows and predicts their missing views"
            )
        if self.record.noise not in (None, "gaussian"):
            raise ValueError(
                f"{self.path} fits counts (model.noise={self.record.noise}): {what} is built for"
                " the Gaussian likelihood only; its q(Z) means are in latents.csv-style form via"
                " Run.latents, and as an .h5ad via Run.write_h5ad"
            )

    @one_blas_thread
    def project(self, rows: np.ndarray, max_draws: int = 20, through_mapping: bool = True) -> Projection:
        """Latents for new raw rows (n, D) (see :mod:`gplvm.evaluate.projection`).

        A back-constrained run evaluates its mapping g (unless ``through_mapping`` is False); a
        Bayesian GPLVM run gives each row its own q(z*); otherwise each of up to ``max_draws``
        point fits (one for a MAP) gives its optimum and Laplace sd.
        """
        self._refuse_unbuilt("projecting new rows")
        Y_new = self.to_fitted_units(rows)
        mapping = self.spec.back_constraint
        if mapping is not None and through_mapping:
            if self.has_draws:
                fits = [(hyper[WEIGHTS], R) for _, hyper, R in self.projection_fits(max_draws)]
            else:
                fits = [(self.tree.posterior[WEIGHTS].values[0, 0], np.eye(self.latents.shape[1]))]
            return project_through_mapping(mapping, fits, Y_new)
        if "variational" in self.tree.children:
            q = self.tree["variational"]
            mean, variance = q["Z_mean"].values, q["Z_var"].values
            R = procrustes_rotations(mean, self.latents)  # into the frame of the run's latents
            return project_variational(
                self.spec.form,
                mean,
                variance,
                self.hyperparameters,
                self.training_data(),
                Y_new,
                self.spec.prior_scale,
                R,
            )
        fits = self.projection_fits(max_draws)
        return project(self.spec.form, fits, self.training_data(), Y_new, self.spec.prior_scale)

    @one_blas_thread
    def predict_along(
        self, new_inputs: np.ndarray, new_groups: np.ndarray | None = None, max_draws: int = 20
    ) -> AlongInputs:
        """Latents and rows at new values of the run's GP latent prior inputs (n*, P raw values);
        see :mod:`gplvm.evaluate.along_inputs`."""
        offset, scale = self._units()
        posterior = self.tree.posterior.to_dataset()
        seed = int(self.config.get("seed", 0))
        return predict_along_inputs(
            self.spec, posterior, self.training_data(), offset, scale, new_inputs, new_groups, max_draws, seed
        )

    @one_blas_thread
    def reconstruct(
        self, Z: np.ndarray | None = None, original_units: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean (n, D) and variance of rows of Y at latent points Z (default: fitted).

        In the units of the fitted data (centred, and scaled when the dataset was standardised),
        where the variance is the same in every column, shape (n,); with ``original_units`` in
        the raw columns' units, the variance then per column, shape (n, D). When the training
        data had missing cells each column is predicted from its observed rows, and the variance
        is per column, (n, D), in either units.
        """
        self._refuse_unbuilt("reconstruction")
        Z_fit = self.latents
        Z_new = Z_fit if Z is None else np.atleast_2d(np.asarray(Z, dtype=float))
        if Z_new.shape[1] != Z_fit.shape[1]:
            raise ValueError(f"latent points have {Z_new.shape[1]} dims; this run has {Z_fit.shape[1]}")
        mean, var = self.spec.form.predict(Z_new, Z_fit, self.training_data(), self.hyperparameters)
        if not original_units:
            return mean, var
        offset, scale = self._units()
        return mean * scale + offset, (var if var.ndim == 2 else var[:, None]) * scale**2


def load_run(run_dir: Path | str) -> Run:
    """Load a completed run directory (``gplvm.load_run``), or raise a one-line RunDirectoryError.

    The :class:`Run` gives the config, the training data, the fitted latents and hyperparameters,
    the DataTree (``tree``) and reconstructions (:meth:`Run.reconstruct`).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir}: no such directory")
    if not (run_dir / results.METRICS).is_file():
        raise RunDirectoryError(f"{run_dir}: no {results.METRICS}; not a gplvm run directory")
    try:
        metrics = results.read_metrics(run_dir)
    except ValueError as exc:
        raise RunDirectoryError(f"{run_dir / results.METRICS}: not valid JSON ({exc})") from None
    status = lifecycle.status(metrics, run_dir)
    if status == "failed":
        raise RunDirectoryError(f"{run_dir}: the run failed: {metrics.get('error', 'no error recorded')}")
    if status == "interrupted":
        raise RunDirectoryError(
            f"{run_dir}: the run was interrupted by {metrics.get('signal')} after"
            f" {metrics.get('elapsed_seconds', float('nan')):.1f} s; rerun it (a sweep with resume=true)"
        )
    if status == "stale":
        raise RunDirectoryError(f"{run_dir}: the run is stale: {lifecycle.stale_reason(metrics)}; rerun it")
    if status != "completed":
        raise RunDirectoryError(
            f"{run_dir}: the run is incomplete (status {status!r}); it may still be running"
        )
    if not (run_dir / results.POSTERIOR).is_file():
        raise RunDirectoryError(f"{run_dir}: {results.POSTERIOR} is missing")
    try:
        tree = az.from_netcdf(run_dir / results.POSTERIOR)
    except (OSError, ValueError) as exc:
        raise RunDirectoryError(f"{run_dir / results.POSTERIOR}: cannot be read ({exc})") from None
    return Run(run_dir, metrics, tree)
