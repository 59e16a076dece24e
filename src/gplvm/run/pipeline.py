"""One experiment from a validated config: data -> model -> fit -> metrics -> run directory.

:func:`fit_experiment` does the work and touches no file; :func:`run_experiment` also writes the
run directory and records failures there. The Hydra entry point in :mod:`gplvm.cli.main` is a thin
wrapper around the latter.
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
from gplvm.config import BackConstrainedConfig, Config, check_against_data
from gplvm.data.dataset import Dataset
from gplvm.data.heldout import split_features
from gplvm.data.loading import load_dataset
from gplvm.data.run_data import COVARIATE_PREFIX, data_attrs
from gplvm.errors import ConfigError
from gplvm.evaluate import elpd
from gplvm.evaluate.along_inputs import AlongInputs, predict_along_inputs
from gplvm.evaluate.diagnostics import column_log_likelihoods, rotation_aware_posterior
from gplvm.evaluate.impute import MAX_DRAWS, impute, imputed_group, laplace_latent_draws
from gplvm.evaluate.metrics import fit_metrics
from gplvm.evaluate.q_quality import UNCOLLAPSED, target_spec
from gplvm.evaluate.record import RunMetrics
from gplvm.evaluate.shading import latent_shading
from gplvm.inference import Fit, method_for
from gplvm.inference.blas_threads import one_blas_thread
from gplvm.model.checks import check_run_config
from gplvm.model.forms.auto import AUTO, choose_likelihood
from gplvm.model.kernels.linear import Linear
from gplvm.model.latent_priors import make_latent_prior
from gplvm.model.latent_priors.back_constraint import BackConstraint
from gplvm.model.spec import ModelSpec
from gplvm.plots.worker import PlotWorker, draw_here
from gplvm.run import lifecycle, results
from gplvm.run.h5ad_export import write_latents_h5ad
from gplvm.run.views_pipeline import fit_views_experiment, save_views_experiment

log = logging.getLogger(__name__)


@dataclass
class Experiment:
    """The outcome of one experiment, before anything is written."""

    data: Dataset  # the columns the model was fitted on
    fit: Fit
    record: RunMetrics
    idata: DataTree
    cfg: Config
    spec: ModelSpec

    @property
    def metrics(self) -> dict:
        """The record as the dict written to ``metrics.json``."""
        return self.record.as_dict()

    def predict_along(
        self, new_inputs: np.ndarray, new_groups: np.ndarray | None = None, max_draws: int = 20
    ) -> AlongInputs:
        """Latents and rows at new values of a GP latent prior's inputs (n*, P), e.g. times
        missing from the series (see :mod:`gplvm.evaluate.along_inputs`)."""
        return predict_along_inputs(
            self.spec,
            self.idata.posterior.to_dataset(),
            self.data.Y,
            self.data.offset,
            self.data.scale,
            new_inputs,
            new_groups,
            max_draws,
            self.cfg.seed,
        )


def check_config(cfg: Config, data: Dataset, spec: ModelSpec) -> None:
    """Checks that need the data's size."""
    check_against_data(cfg, data.n_obs)
    spec.form.check_size(data.n_obs)
    if cfg.kfold.folds > data.n_features:
        raise ConfigError(
            f"kfold.folds={cfg.kfold.folds} is invalid: it must lie in [2, {data.n_features}]"
            f" (the {data.n_features} fitted feature columns)"
        )
    q, d = cfg.model.latent_dim, data.n_features
    if isinstance(spec.kernel, Linear) and q > d:
        raise ConfigError(
            f"model.latent_dim={q} is invalid with the linear kernel on {d} feature columns: it must lie"
            f" in [1, {d}] (Z Z^T has rank at most D, so the other {q - d} dims are unidentified)"
        )
    if isinstance(spec.kernel, Linear) and q == d:
        log.warning(
            "model.latent_dim=%d equals the number of feature columns: the linear GPLVM then models the"
            " full covariance, with no reduction; choose a smaller model.latent_dim to reduce",
            q,
        )


def _result_groups(idata: DataTree) -> dict[str, xr.Dataset]:
    """The fit's groups without what is empty, bulky or redundant.

    The optimiser's end point, gradient and L-BFGS memory (O(N Q) each, repeating Z) are dropped;
    the final gradient is kept as its largest entry, ``jac_max_abs``.
    """
    groups = {
        path: node.to_dataset() for path, node in idata.subtree_with_keys if path != "." and node.data_vars
    }
    if "optimizer_result" in groups:
        opt = groups["optimizer_result"]
        jac = opt["jac"].values if "jac" in opt else np.zeros(1)
        opt = opt.drop_vars([v for v in ("hess_inv_sk", "hess_inv_yk", "x", "jac") if v in opt])
        opt = opt.drop_vars([c for c in ("variables",) if c in opt.coords])
        groups["optimizer_result"] = opt.assign(jac_max_abs=float(np.max(np.abs(jac))))
    return groups


def log_likelihood_group(columns: np.ndarray, posterior: xr.Dataset, data: Dataset) -> xr.Dataset:
    """ArviZ's ``log_likelihood`` group: ``Y`` (chain, draw, feature), each feature's log density.

    The features, not the rows, are the independent units given the latents, so ``az.loo`` on
    this group leaves one feature column out at a time.
    """
    return xr.Dataset(
        {"Y": (("chain", "draw", "feature"), columns)},
        coords={
            "chain": posterior["chain"].values,
            "draw": posterior["draw"].values,
            "feature": np.asarray(data.feature_names, dtype=str),
        },
    )


def build_tree(
    fit: Fit,
    data: Dataset,
    cfg: Config,
    spec: ModelSpec,
    config_yaml: str,
    heldout: xr.DataArray | None = None,
) -> DataTree:
    """The run's DataTree: the fit's groups, labels, rotation-aware variables of draws, and attrs.

    For a fit with draws the posterior gains ``Z_aligned``, ``alignment_residual`` and the
    invariants, and an ``alignment`` group holds the reference (see :mod:`gplvm.evaluate.diagnostics`).
    The root attrs record the method, dataset, model settings and the composed config.
    """
    groups = _result_groups(fit.idata)
    if fit.has_draws:
        reference = None if fit.start is None else fit.point_estimate()
        name = None if fit.start is None else fit.start.description
        if fit.columns is not None:  # scored by the method itself: each column's bound
            columns, likelihood = fit.columns, UNCOLLAPSED
        else:
            scoring, likelihood = spec, None
            if "variational" in groups:  # q's draws are scored by the model's own likelihood
                scoring, likelihood = target_spec(spec, data.n_obs)
            columns = column_log_likelihoods(groups["posterior"], data, scoring)
        groups["posterior"], groups["alignment"] = rotation_aware_posterior(
            groups["posterior"], data, spec, reference, name, columns
        )
        if likelihood is not None:  # log p(Y, Z_s) up to a constant, beside log q(Z_s)
            log_p = groups["posterior"]["log_posterior"].assign_attrs(likelihood=likelihood)
            groups["variational"] = groups["variational"].assign(log_p=log_p)
        if cfg.inference.log_likelihood:
            groups["log_likelihood"] = log_likelihood_group(columns, groups["posterior"], data)
    store_data, data_info = data_attrs(data, cfg)
    constant = groups.get("constant_data", xr.Dataset())
    if "Y_observed" in constant:  # missing cells back to NaN, as in the data
        constant = constant.assign(Y=constant["Y"].where(constant["Y_observed"])).drop_vars("Y_observed")
    if not store_data:  # referenced by source and hash instead (see gplvm.data.run_data)
        constant = constant.drop_vars("Y")
        heldout = None
    if data.offset is not None:  # D numbers, kept even when Y is not: they map new rows into Y's units
        constant = constant.assign(
            feature_offset=xr.DataArray(data.offset, dims="feature"),
            feature_scale=xr.DataArray(data.scale, dims="feature"),
        )
    if data.labels is not None:
        constant = constant.assign(label=xr.DataArray(data.labels.astype(str), dims="obs"))
    for name, values in (data.covariates or {}).items():  # a latent prior's inputs: read back by load_run
        constant = constant.assign(
            {f"{COVARIATE_PREFIX}{name}": xr.DataArray(values.astype(str), dims="obs")}
        )
    if data.Z_true is not None:
        constant = constant.assign(Z_true=xr.DataArray(data.Z_true, dims=("obs", "true_latent_dim")))
        constant = constant.assign_coords(true_latent_dim=np.arange(data.Z_true.shape[1]))
    if heldout is not None:
        constant = constant.assign(Y_heldout=heldout)
    groups["constant_data"] = constant
    tree = DataTree.from_dict(groups)
    tree.attrs = {
        **fit.idata.attrs,
        "gplvm_version": __version__,
        "method": fit.method,
        "dataset": data.name,
        "latent_dim": spec.latent_dim,
        "kernel": spec.kernel.name,
        "ard": int(spec.kernel.ard),
        "learned": ",".join(spec.learned),  # netCDF attrs hold no lists
        "jitter": cfg.model.jitter,
        "beta": cfg.model.beta,  # the configured value; a learned beta is in the posterior
        "prior_scale": cfg.model.prior_scale,
        "likelihood": spec.form.name,
        "seed": cfg.seed,
        "config": config_yaml,
        "model_config": OmegaConf.to_yaml(OmegaConf.structured(cfg.model)),
        **{f"dataset_{k}": v for k, v in data.attrs.items()},
        **data_info,
    }
    return tree


def imputation(tree: DataTree, full: Dataset, data: Dataset, spec: ModelSpec, seed: int) -> xr.Dataset:
    """The ``imputed`` group: every column of the data file (held-out ones too), missing cells
    filled with their predictive means, and their sds, in the file's units (see
    :mod:`gplvm.evaluate.impute`). A point fit's sds include each row's Laplace latent uncertainty,
    from its cells in the fitted columns (``data``)."""
    fits = [(Z, hyper) for _, Z, hyper in spec.fits(tree.posterior.to_dataset(), MAX_DRAWS)]
    at = None
    if len(fits) == 1 and "Z_aligned" not in tree.posterior:
        Z, hyper = fits[0]
        at = laplace_latent_draws(spec.form, Z, hyper, data.Y, spec.prior_scale, seed)
        if not isinstance(spec.kernel, Linear):
            log.warning(
                "imputed sds of a MAP with the %s kernel can be overconfident: a row's latent may have"
                " several modes, and a MAP may fit the noise too closely; inference=variational or"
                " nuts integrates the latents (docs/model.md, Missing cells)",
                spec.kernel.name,
            )
    mean, sd = impute(spec.form, fits, full.Y, at)
    original = full.to_original_units(mean)
    if full.raw is not None:  # observed cells exactly as read
        original = np.where(np.isnan(full.Y), original, full.raw)
    return imputed_group(original, sd * full.scale, full.feature_names, len(fits))


def kfold_over_features(fit: Fit, tree: DataTree, data: Dataset, spec: ModelSpec, method, cfg: Config):
    """The ``kfold`` group: exact K-fold over the fitted columns (see :mod:`gplvm.evaluate.elpd`)."""
    if "log_likelihood" in tree:
        columns = tree["log_likelihood"]["Y"].values
    else:
        columns = column_log_likelihoods(tree.posterior.to_dataset(), data, spec)
    lppd = elpd.lppd(columns)
    result, fold = elpd.kfold(data, spec, method, cfg.seed, cfg.kfold.folds, cfg.kfold.seed, lppd)
    return elpd.kfold_group(result, fold, cfg.kfold.seed)


@one_blas_thread
def fit_experiment(cfg: Config, config_yaml: str = "", data: Dataset | None = None) -> Experiment:
    """Load the data, build the model, fit it and compute the metrics; write nothing.

    ``config_yaml`` is the composed config as the run records it; by default, ``cfg`` itself.
    ``data``, when given, is fitted instead of the dataset that ``cfg.dataset`` describes (the
    array-in estimator, :class:`gplvm.run.estimator.GPLVM`, passes its array this way).
    """
    config_yaml = config_yaml or OmegaConf.to_yaml(OmegaConf.structured(cfg))
    check_run_config(cfg)
    full = load_dataset(cfg.dataset, cfg.latent_prior.columns) if data is None else data
    data, Y_heldout, heldout_names = split_features(full, cfg.heldout.fraction, cfg.heldout.seed)
    choice = None
    if cfg.model.likelihood == AUTO:
        name, choice = choose_likelihood(cfg.model.kernel, data.n_obs)
        log.info("model.likelihood=%s (%s)", name, choice)
        cfg = replace(cfg, model=replace(cfg.model, likelihood=name))
    spec = ModelSpec.from_config(cfg.model, data.n_obs)
    prior = make_latent_prior(cfg.latent_prior, data.covariates, spec.prior_scale, spec.latent_dim)
    if prior is not None:
        spec = replace(spec, latent_prior=prior)
    if isinstance(cfg.latent_prior, BackConstrainedConfig):
        mapping = BackConstraint.from_config(cfg.latent_prior, data.Y, spec.prior_scale, cfg.seed)
        spec = replace(spec, back_constraint=mapping)
    check_config(cfg, data, spec)
    method = method_for(cfg.inference)
    method.check_data(data, spec)
    fit = method.fit(method.build_model(data, spec), data, spec, cfg.seed)
    heldout = None
    if Y_heldout is not None:
        heldout = xr.DataArray(
            Y_heldout, dims=("obs", "heldout_feature"), coords={"heldout_feature": heldout_names}
        )
    tree = build_tree(fit, data, cfg, spec, config_yaml, heldout)
    if full.n_missing:
        tree["imputed"] = imputation(tree, full, data, spec, cfg.seed)
    if cfg.kfold.folds:
        tree["kfold"] = kfold_over_features(fit, tree, data, spec, method, cfg)
    record = replace(
        fit_metrics(fit, tree, data, cfg, spec, Y_heldout, heldout_names), likelihood_choice=choice
    )
    return Experiment(data, fit, record, tree, cfg, spec)


def latent_plot_request(exp: Experiment) -> tuple[str, tuple, dict]:
    """``latent.png`` as (function in :mod:`gplvm.plots.figures`, args after the path, kwargs).

    The point estimate, or the clouds of aligned draws around each point. Stationary kernels get
    the predictive variance as background: at the point estimate, or for draws at the alignment
    reference with posterior-mean hyperparameters. Everything is computed here, in NumPy, so that
    the drawing itself can happen in another process.
    """
    m = exp.record
    where = f"{exp.data.name}, {m.kernel} kernel, Q={m.latent_dim}, beta={m.beta:.3g}"
    if m.latent_prior is not None and "inputs" in m.latent_prior:  # against (GP: in the order of) an input
        Z = exp.idata["alignment"]["Z_reference"].values if exp.fit.has_draws else exp.fit.point_estimate()
        settings = m.latent_prior
        covariates = exp.data.covariates
        inputs = np.asarray(covariates[settings["inputs"][0]], dtype=float)
        group = settings.get("group")
        groups = None if group is None else covariates[group]
        kind = "a GP prior over" if settings["name"] == "gp" else "latent dim 0 centred on"
        title = f"GPLVM {m.method.upper()} with {kind} {', '.join(settings['inputs'])}: {where}"
        join = settings["name"] == "gp"
        return "save_trajectory_plot", (Z, inputs, groups, title, settings["inputs"][0]), {"join": join}
    # The MAP's values, or posterior means; and the sparse form's inducing inputs.
    hyper = {**m.hyperparameters, **exp.spec.form_values(exp.idata.posterior.to_dataset())}
    if exp.fit.has_draws:
        reference = exp.idata["alignment"]["Z_reference"].values
        kwargs = {
            "title": f"GPLVM posterior ({m.method}): {where}",
            "shading": latent_shading(reference, hyper, exp.spec),
        }
        return (
            "save_latent_posterior_plot",
            (exp.idata.posterior["Z_aligned"].values, reference, exp.data.labels),
            kwargs,
        )
    Z = exp.fit.point_estimate()
    panels = [(f"GPLVM {m.method.upper()}: {where}", Z)]
    return "save_latent_plot", (panels, exp.data.labels, [latent_shading(Z, hyper, exp.spec)]), {}


def save_experiment(
    exp: Experiment, run_dir: Path, plot: bool = True, plotter: PlotWorker | None = None
) -> None:
    """Write ``posterior.nc``, ``imputed.csv`` and ``imputed_sd.csv`` (data with missing cells),
    ``latents.h5ad`` (data from an ``.h5ad`` file), ``latent.png`` and, last, ``metrics.json``
    with status completed.

    ``plotter``, when given, draws ``latent.png`` in its own process while ``posterior.nc`` is
    written (see :mod:`gplvm.plots.worker`).
    """
    if plot and plotter is not None:
        name, args, kwargs = latent_plot_request(exp)
        plotter.submit(name, *args, **kwargs)
    results.write_posterior(run_dir, exp.idata)
    if "imputed" in exp.idata:
        results.write_imputed(run_dir, exp.idata["imputed"].to_dataset())
    write_latents_h5ad(run_dir, exp.cfg.dataset, exp.idata, exp.data.n_obs)
    if plot:
        png = plotter.result() if plotter is not None else draw_here(*latent_plot_request(exp))
        results.write_atomic(run_dir / results.LATENT_PLOT, lambda p: p.write_bytes(png))
    results.write_metrics(run_dir, exp.metrics)


def run_experiment(
    cfg: Config, run_dir: Path, config_yaml: str = "", config_sha256: str | None = None
) -> RunMetrics:
    """Fit and save one experiment in ``run_dir``, recording it as running, then completed.

    An error is recorded there as failed and re-raised; SIGINT/SIGTERM as interrupted (see
    :mod:`gplvm.run.lifecycle`). ``config_sha256`` identifies the composed config for resuming sweeps.
    """
    with lifecycle.job(run_dir):
        # Started first, so that loading matplotlib overlaps the fit on another core.
        plotter = PlotWorker() if cfg.plot else None
        try:
            if cfg.dataset.has_views:  # several views: the multi-view Bayesian GPLVM
                exp = fit_views_experiment(cfg, load_dataset(cfg.dataset), config_yaml)
                exp.record.config_sha256 = config_sha256
                save_views_experiment(exp, run_dir, plot=cfg.plot)
            else:
                exp = fit_experiment(cfg, config_yaml)
                exp.record.config_sha256 = config_sha256
                save_experiment(exp, run_dir, plot=cfg.plot, plotter=plotter)
        except Exception as exc:
            results.mark_failed(run_dir, exc)
            raise
        finally:
            if plotter is not None:
                plotter.close()
    return exp.record
