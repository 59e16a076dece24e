"""A multi-view run (``dataset.views``, MRD): fit, its DataTree and record, and its files.

The run directory holds what a single-view variational run holds (``posterior.nc`` with draws
from q and a ``variational`` group, ``metrics.json``, ``latent.png``) plus
``view_relevance.png``: a bar chart per view of its ARD relevance over the latent dims. With a
label view (``dataset.label_view``), ``predicted_labels.csv`` gives each row without a label its
predicted label and every class's probability.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import xarray as xr
from omegaconf import OmegaConf
from xarray import DataTree

from gplvm import __version__
from gplvm.config import Config, Init, MapConfig
from gplvm.data.dataset import Dataset
from gplvm.errors import ConfigError
from gplvm.evaluate.across_views import AcrossViews, ViewPredictor, class_probabilities, predict_across_views
from gplvm.evaluate.metrics import neighbour_metrics
from gplvm.evaluate.record import RunMetrics
from gplvm.inference.blas_threads import one_blas_thread
from gplvm.inference.multiview import ViewsFit, fit_views, view_specs
from gplvm.model.views import RELEVANCE_THRESHOLD, shared_and_private
from gplvm.plots.worker import draw_here
from gplvm.run import results
from gplvm.run.h5ad_export import write_latents_h5ad

log = logging.getLogger(__name__)
RELEVANCE_PLOT = "view_relevance.png"
PREDICTED_LABELS = "predicted_labels.csv"


@dataclass(frozen=True)
class LabelPredictions:
    """Rows without a label (in the data or hidden): each class's probability, the likeliest."""

    rows: np.ndarray
    classes: list[str]
    probability: np.ndarray  # (len(rows), C)

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.classes)[np.argmax(self.probability, axis=1)]

    @property
    def confidence(self) -> np.ndarray:
        return self.probability.max(axis=1)


@dataclass
class ViewsExperiment:
    """The outcome of one multi-view run, before anything is written."""

    data: Dataset
    fit: ViewsFit
    record: RunMetrics
    idata: DataTree
    cfg: Config
    labels: LabelPredictions | None = None

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
            None if self.data.label_view is None else self.data.label_view.name,
        )
        return replace(out, mean=self.data.to_original_units(out.mean), sd=out.sd * self.data.scale)


def check_views_config(cfg: Config, data: Dataset) -> None:
    """Views need the Bayesian GPLVM or a MAP (each view's bound is its sparse bound), and not yet
    the settings that the multi-view path does not carry out (refused rather than ignored)."""
    if not isinstance(cfg.inference, MapConfig):
        raise ConfigError(
            f"inference={cfg.inference.method} is not built for several views (dataset.views,"
            " dataset.label_view): use inference=variational (the Bayesian GPLVM) or inference=map"
        )
    if cfg.inference.init not in (Init.auto, Init.pca, Init.random):
        raise ConfigError(
            f"inference.init={cfg.inference.init.value} is not built for several views: use pca or random"
        )
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
    """Draws of Z from q as the posterior (a MAP: its Z) with each view's fitted values repeated
    per draw (suffixed ``_<view>``); q as ``variational`` (not for a MAP); the data and each
    feature's view as constant data."""
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
    groups = {"posterior": posterior}
    if fitted.method == "variational":
        groups["variational"] = xr.Dataset(
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
    tree = DataTree.from_dict({**groups, "constant_data": constant})
    tree.attrs = {
        "gplvm_version": __version__,
        "method": fitted.method,
        "dataset": data.name,
        "latent_dim": fitted.views[0].spec.latent_dim,
        "views": ",".join(view.name for view in fitted.views),
        **(
            {}
            if data.label_view is None
            else {"label_view": data.label_view.name, "label_classes": json.dumps(data.label_view.classes)}
        ),
        "seed": cfg.seed,
        "config": config_yaml,
        "model_config": OmegaConf.to_yaml(OmegaConf.structured(cfg.model)),
    }
    return tree


def predict_labels(fitted: ViewsFit, data: Dataset, seed: int) -> LabelPredictions | None:
    """Each unlabelled row's class probabilities at its q(z_n) (see
    :func:`~gplvm.evaluate.across_views.class_probabilities`); None without a label view."""
    label_view = data.label_view
    if label_view is None or not label_view.unlabelled.any():
        return None
    rows = np.flatnonzero(label_view.unlabelled)
    view = next(v for v in fitted.views if v.name == label_view.name)
    predictor = ViewPredictor([view], fitted.values, fitted.q, data.Y)  # the label view's q(u) only
    probability = class_probabilities(predictor, view, fitted.q.mean[rows], fitted.q.variance[rows], seed)
    return LabelPredictions(rows, label_view.classes, probability)


def _label_fields(data: Dataset, labels: LabelPredictions | None) -> dict:
    """The record's label-view fields: how many rows were predicted, and on the hidden ones
    (whose labels are known) the accuracy and the mean probability of the predicted label."""
    if data.label_view is None:
        return {}
    out = {"label_view": data.label_view.name, "labels_hidden": int(data.label_view.hidden.sum())}
    if labels is None:
        return out | {"labels_predicted": 0}
    out["labels_predicted"] = len(labels.rows)
    hidden = data.label_view.hidden[labels.rows]
    if hidden.any():
        truth = np.asarray(data.labels).astype(str)[labels.rows[hidden]]
        out["label_accuracy"] = float(np.mean(labels.labels[hidden] == truth))
        out["label_confidence"] = float(np.mean(labels.confidence[hidden]))
    return out


def views_record(
    fitted: ViewsFit, data: Dataset, cfg: Config, labels: LabelPredictions | None = None
) -> RunMetrics:
    """The record: the fit's figures, the relevance matrix and each latent dim's users."""
    matrix = fitted.relevance
    names = [view.name for view in fitted.views]
    spec = fitted.views[0].spec
    record = RunMetrics(
        status="completed",
        method=fitted.method,
        dataset=data.name,
        n_obs=data.n_obs,
        n_features=data.n_features,
        latent_dim=spec.latent_dim,
        kernel=spec.kernel.name,
        elbo=fitted.objective if fitted.method == "variational" else None,
        log_posterior=fitted.objective if fitted.method == "map" else None,
        iterations=fitted.info.get("iterations"),
        converged=fitted.info.get("converged"),
        fit_seconds=fitted.info.get("fit_seconds"),
        seed=cfg.seed,
        views={view.name: len(view.columns) for view in fitted.views},
        view_relevance={name: row.tolist() for name, row in zip(names, matrix, strict=True)},
        view_dims={str(q): users for q, users in shared_and_private(matrix, names).items()},
        view_relevance_threshold=RELEVANCE_THRESHOLD,
        **_label_fields(data, labels),
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
    label_view = None if data.label_view is None else data.label_view.name
    specs = view_specs(cfg.model, data.n_obs, data.views, label_view)
    fitted = fit_views(data, specs, cfg.inference, cfg.model.prior_scale, cfg.seed)
    labels = predict_labels(fitted, data, cfg.seed)
    record = views_record(fitted, data, cfg, labels)
    return ViewsExperiment(data, fitted, record, views_tree(fitted, data, cfg, config_yaml), cfg, labels)


def write_predicted_labels(path: Path, labels: LabelPredictions, data: Dataset) -> None:
    """``predicted_labels.csv``: per unlabelled row its index, predicted label, that label's
    probability, the hidden label where one was hidden (else empty) and every class's probability."""
    hidden = data.label_view.hidden[labels.rows]
    truth = np.where(hidden, np.asarray(data.labels).astype(str)[labels.rows], "")
    header = ["obs", "predicted_label", "probability", "hidden_label"]
    header += [f"probability_{c}" for c in labels.classes]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(header)
            for i, row in enumerate(labels.rows):
                cells = [row, labels.labels[i], f"{labels.confidence[i]:.6g}", truth[i]]
                out.writerow(cells + [f"{p:.6g}" for p in labels.probability[i]])

    results.write_atomic(path, write)


def save_views_experiment(exp: ViewsExperiment, run_dir: Path, plot: bool = True) -> None:
    """``posterior.nc``, ``predicted_labels.csv`` (a label view), ``latents.h5ad`` (data from an
    ``.h5ad`` file), the plots, and last ``metrics.json``."""
    results.write_posterior(run_dir, exp.idata)
    if exp.labels is not None:
        write_predicted_labels(run_dir / PREDICTED_LABELS, exp.labels, exp.data)
    write_latents_h5ad(run_dir, exp.cfg.dataset, exp.idata, exp.data.n_obs)
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
