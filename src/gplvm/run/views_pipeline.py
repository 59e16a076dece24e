"""A multi-view run (``dataset.views``, MRD): fit, its DataTree and record, and its files.

The run directory holds what a single-view variational run holds (``posterior.nc`` with draws
from q and a ``variational`` group, ``metrics.json``, ``latent.png``) plus
``view_relevance.png``: a bar chart per view of its ARD relevance over the latent dims.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import xarray as xr
from omegaconf import OmegaConf
from xarray import DataTree

from gplvm import __version__
from gplvm.config import Config, VariationalConfig
from gplvm.data.dataset import Dataset
from gplvm.errors import ConfigError
from gplvm.evaluate.across_views import AcrossViews, predict_across_views
from gplvm.evaluate.metrics import neighbour_metrics
from gplvm.evaluate.record import RunMetrics
from gplvm.inference.blas_threads import one_blas_thread
from gplvm.inference.multiview import ViewsFit, fit_views, view_specs
from gplvm.model.views import RELEVANCE_THRESHOLD, shared_and_private
from gplvm.plots.worker import draw_here
from gplvm.run import results

log = logging.getLogger(__name__)
RELEVANCE_PLOT = "view_relevance.png"


@dataclass
class ViewsExperiment:
    """The outcome of one multi-view run, before anything is written."""

    data: Dataset
    fit: ViewsFit
    record: RunMetrics
    idata: DataTree
    cfg: Config

    @property
    def metrics(self) -> dict:
        return self.record.as_dict()

    def predict_views(self, rows: np.ndarray) -> AcrossViews:
        """New raw rows (n*, D; NaN where a view or cell is not observed): each row's q(z*) from
        its observed views and every column's predictive mean and sd, in the data's units (see
        :mod:`gplvm.evaluate.across_views`)."""
        Y_new = (np.asarray(rows, dtype=float) - self.data.offset) / self.data.scale
        fitted = self.fit
        out = predict_across_views(
            fitted.views,
            fitted.values,
            fitted.q,
            self.data.Y,
            Y_new,
            self.cfg.model.prior_scale,
            self.cfg.seed,
        )
        return replace(out, mean=self.data.to_original_units(out.mean), sd=out.sd * self.data.scale)


def check_views_config(cfg: Config, data: Dataset) -> None:
    """Views need the Bayesian GPLVM (the bound per view is its sparse bound), and not yet the
    settings that the multi-view path does not carry out (refused rather than ignored)."""
    if not isinstance(cfg.inference, VariationalConfig):
        raise ConfigError("dataset.views fits the multi-view Bayesian GPLVM: use inference=variational")
    if len(data.views) < 1:
        raise ConfigError("dataset.views names no view")
    unsupported = {
        f"latent_prior={cfg.latent_prior.name}": cfg.latent_prior.name != "iid",
        f"heldout.fraction={cfg.heldout.fraction}": cfg.heldout.fraction > 0,
        f"kfold.folds={cfg.kfold.folds}": cfg.kfold.folds > 0,
    }
    for setting, used in unsupported.items():
        if used:
            raise ConfigError(f"{setting} is not built for several views (dataset.views) yet; drop it")


def views_tree(fitted: ViewsFit, data: Dataset, cfg: Config, config_yaml: str) -> DataTree:
    """Draws of Z from q as the posterior with each view's fitted values repeated per draw
    (suffixed ``_<view>``); q as ``variational``; the data and each feature's view as constant data."""
    chains, draws = fitted.draws.shape[:2]
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    variables = {"Z": (("chain", "draw", "obs", "latent_dim"), fitted.draws)}
    for view in fitted.views:
        for name, value in fitted.values[view.name].items():
            value = np.asarray(value, dtype=float)
            if name in view.spec.form.parameter_dims:
                dims = view.parameter_dims(name)
            else:
                dims = ("latent_dim",) if value.ndim else ()
            variables[view.variable(name)] = (
                ("chain", "draw", *dims),
                np.broadcast_to(value, (chains, draws, *value.shape)),
            )
    posterior = xr.Dataset(variables, coords=coords)
    q = xr.Dataset(
        {
            "Z_mean": (("obs", "latent_dim"), fitted.q.mean),
            "Z_var": (("obs", "latent_dim"), fitted.q.variance),
            "log_q": (("chain", "draw"), fitted.q.log_density(fitted.draws)),
        },
        coords=coords,
        attrs={"family": "q(Z) = prod_n N(Z_mean[n], diag Z_var[n]), shared by every view"},
    )
    view_of = np.empty(data.n_features, dtype=object)
    for view in fitted.views:
        view_of[view.columns] = view.name
    constant = xr.Dataset(
        {
            "Y": (("obs", "feature"), data.Y),
            "feature_view": ("feature", view_of.astype(str)),
            "feature_offset": ("feature", data.offset),
            "feature_scale": ("feature", data.scale),
        },
        coords={"feature": np.asarray(data.feature_names, dtype=str)},
    )
    if data.labels is not None:
        constant = constant.assign(label=("obs", data.labels.astype(str)))
    tree = DataTree.from_dict({"posterior": posterior, "variational": q, "constant_data": constant})
    tree.attrs = {
        "gplvm_version": __version__,
        "method": "variational",
        "dataset": data.name,
        "latent_dim": fitted.views[0].spec.latent_dim,
        "views": ",".join(view.name for view in fitted.views),
        "seed": cfg.seed,
        "config": config_yaml,
        "model_config": OmegaConf.to_yaml(OmegaConf.structured(cfg.model)),
    }
    return tree


def views_record(fitted: ViewsFit, data: Dataset, cfg: Config) -> RunMetrics:
    """The record: the fit's figures, the relevance matrix and each latent dim's users."""
    matrix = fitted.relevance
    names = [view.name for view in fitted.views]
    spec = fitted.views[0].spec
    record = RunMetrics(
        status="completed",
        method="variational",
        dataset=data.name,
        n_obs=data.n_obs,
        n_features=data.n_features,
        latent_dim=spec.latent_dim,
        kernel=spec.kernel.name,
        elbo=fitted.elbo,
        iterations=fitted.info.get("iterations"),
        converged=fitted.info.get("converged"),
        fit_seconds=fitted.info.get("fit_seconds"),
        seed=cfg.seed,
        views={view.name: len(view.columns) for view in fitted.views},
        view_relevance={name: row.tolist() for name, row in zip(names, matrix, strict=True)},
        view_dims={str(q): users for q, users in shared_and_private(matrix, names).items()},
        view_relevance_threshold=RELEVANCE_THRESHOLD,
    )
    for key, value in neighbour_metrics(fitted.q.mean, data, spec.latent_dim).items():
        if hasattr(record, key):
            setattr(record, key, value)
    return record


@one_blas_thread
def fit_views_experiment(cfg: Config, data: Dataset, config_yaml: str = "") -> ViewsExperiment:
    """Fit the multi-view Bayesian GPLVM to ``data`` (with ``data.views``); write nothing."""
    check_views_config(cfg, data)
    config_yaml = config_yaml or OmegaConf.to_yaml(OmegaConf.structured(cfg))
    fitted = fit_views(
        data, view_specs(cfg.model, data.n_obs, data.views), cfg.inference, cfg.model.prior_scale, cfg.seed
    )
    record = views_record(fitted, data, cfg)
    return ViewsExperiment(data, fitted, record, views_tree(fitted, data, cfg, config_yaml), cfg)


def save_views_experiment(exp: ViewsExperiment, run_dir: Path, plot: bool = True) -> None:
    """``posterior.nc``, the plots, and last ``metrics.json``."""
    results.write_posterior(run_dir, exp.idata)
    if plot:
        matrix = exp.fit.relevance
        names = [view.name for view in exp.fit.views]
        title = f"MRD on {exp.data.name}: each view's ARD relevance (threshold {RELEVANCE_THRESHOLD:g})"
        png = draw_here("save_view_relevance_plot", (matrix, names, title), {})
        results.write_atomic(run_dir / RELEVANCE_PLOT, lambda p: p.write_bytes(png))
        latent = draw_here(
            "save_latent_plot",
            ([(f"q's means, views {', '.join(names)}", exp.fit.q.mean)], exp.data.labels),
            {},
        )
        results.write_atomic(run_dir / results.LATENT_PLOT, lambda p: p.write_bytes(latent))
    results.write_metrics(run_dir, exp.metrics)
