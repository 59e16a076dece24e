"""One experiment from a validated config: data -> model -> fit -> metrics -> run directory.

:func:`fit_experiment` does the work and touches no file; :func:`run_experiment` also writes the
run directory and records failures there. The Hydra entry point in :mod:`gplvm.cli` is a thin
wrapper around the latter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from omegaconf import OmegaConf
from xarray import DataTree

from gplvm import __version__, densities, hyperparameters, plots, results
from gplvm.config import Config, Init, Kernel, Likelihood, MapConfig, check_against_data
from gplvm.data import Dataset, load_dataset, split_features
from gplvm.diagnostics import rotation_aware_posterior
from gplvm.errors import ConfigError, NumericalError
from gplvm.inference import Fit, fit_map, fit_nuts, initial_latents
from gplvm.kernels import covariance_np
from gplvm.metrics import fit_metrics
from gplvm.model import build_model
from gplvm.shading import latent_shading

# Above this N the dense likelihood's N x N matrices (several per gradient) exhaust memory.
DENSE_MAX_OBS = 10_000


@dataclass
class Experiment:
    """The outcome of one experiment, before anything is written."""

    data: Dataset  # the columns the model was fitted on
    fit: Fit
    metrics: dict
    idata: DataTree
    cfg: Config


def check_config(cfg: Config, data: Dataset) -> None:
    """Checks that need the data's size."""
    check_against_data(cfg, data.n_obs)
    if cfg.model.likelihood == Likelihood.dense and data.n_obs > DENSE_MAX_OBS:
        gib = 8 * data.n_obs**2 / 2**30
        raise ConfigError(
            f"model.likelihood=dense with N={data.n_obs} needs N x N matrices of {gib:.1f} GiB each;"
            f" use model.likelihood=woodbury (dense allows N <= {DENSE_MAX_OBS})"
        )


def _start(data: Dataset, cfg: Config, init: Init) -> dict[str, np.ndarray]:
    """Starting latents and learned hyperparameters; fails early if K cannot be factorised there."""
    m = cfg.model
    Z0 = initial_latents(data, m.latent_dim, init, m.prior_scale, cfg.seed)
    values = hyperparameters.configured(m)
    if m.kernel != Kernel.linear:
        K0 = covariance_np(Z0, m.kernel.value, values, m.jitter)
        densities.cholesky(K0, values, m.jitter, f"at the {init.value} start")
    return {"Z": Z0, **{name: np.asarray(values[name]) for name in m.learned()}}


def _check_map(fit: Fit, data: Dataset, cfg: Config) -> None:
    """A MAP that left the region where K factorises must not pass as a result."""
    hyper = hyperparameters.first_draw(fit.idata.posterior.to_dataset(), cfg.model)
    Z = fit.point_estimate()
    if not (np.all(np.isfinite(Z)) and all(np.all(np.isfinite(v)) for v in hyper.values())):
        raise NumericalError(f"the MAP optimiser diverged to non-finite values ({densities.describe(hyper)})")
    densities.log_likelihood(Z, data.Y, cfg.model, hyper, where="at the MAP")


def _fit(data: Dataset, cfg: Config) -> Fit:
    model = build_model(data, cfg.model)
    inf = cfg.inference
    if isinstance(inf, MapConfig):
        fit = fit_map(model, _start(data, cfg, inf.init), inf, cfg.seed)
        _check_map(fit, data, cfg)
        return fit
    if inf.init != Init.map:
        return fit_nuts(model, _start(data, cfg, inf.init), inf, cfg.seed)
    map_fit = fit_map(model, _start(data, cfg, inf.map.init), inf.map, cfg.seed)
    _check_map(map_fit, data, cfg)
    start = {"Z": map_fit.point_estimate(), **{n: map_fit.point_estimate(n) for n in cfg.model.learned()}}
    return fit_nuts(model, start, inf, cfg.seed, map_fit=map_fit)


def _result_groups(idata: DataTree) -> dict[str, xr.Dataset]:
    """The fit's groups without what is empty, bulky or redundant.

    The MAP's ``fit`` group and its L-BFGS memory (O(N Q) each, repeating Z) are dropped; the
    final gradient is kept as its largest entry, ``jac_max_abs``.
    """
    groups = {
        path: node.to_dataset() for path, node in idata.subtree_with_keys if path != "." and node.data_vars
    }
    groups.pop("fit", None)
    if "optimizer_result" in groups:
        opt = groups["optimizer_result"]
        jac = opt["jac"].values if "jac" in opt else np.zeros(1)
        opt = opt.drop_vars([v for v in ("hess_inv_sk", "hess_inv_yk", "x", "jac") if v in opt])
        opt = opt.drop_vars([c for c in ("variables",) if c in opt.coords])
        groups["optimizer_result"] = opt.assign(jac_max_abs=float(np.max(np.abs(jac))))
    return groups


def build_tree(
    fit: Fit, data: Dataset, cfg: Config, config_yaml: str, heldout: xr.DataArray | None = None
) -> DataTree:
    """The run's DataTree: the fit's groups, labels, rotation-aware NUTS variables and attrs.

    For NUTS the posterior gains ``Z_aligned``, ``alignment_residual`` and the invariants, and an
    ``alignment`` group holds the reference (see :mod:`gplvm.diagnostics`). The root attrs record
    the method, dataset, model settings and the composed config.
    """
    groups = _result_groups(fit.idata)
    if cfg.inference.method == "nuts":
        reference = None if fit.map_fit is None else fit.point_estimate()
        groups["posterior"], groups["alignment"] = rotation_aware_posterior(
            groups["posterior"], data, cfg, reference
        )
    constant = groups.get("constant_data", xr.Dataset())
    if data.labels is not None:
        constant = constant.assign(label=xr.DataArray(data.labels.astype(str), dims="obs"))
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
        "method": cfg.inference.method,
        "dataset": data.name,
        "latent_dim": cfg.model.latent_dim,
        "kernel": cfg.model.kernel.value,
        "ard": int(cfg.model.ard),
        "learned": ",".join(cfg.model.learned()),  # netCDF attrs hold no lists
        "jitter": cfg.model.jitter,
        "beta": cfg.model.beta,  # the configured value; a learned beta is in the posterior
        "prior_scale": cfg.model.prior_scale,
        "likelihood": cfg.model.likelihood.value,
        "seed": cfg.seed,
        "config": config_yaml,
        "model_config": OmegaConf.to_yaml(OmegaConf.structured(cfg.model)),
        **{f"dataset_{k}": v for k, v in data.attrs.items()},
    }
    return tree


def fit_experiment(cfg: Config, config_yaml: str = "") -> Experiment:
    """Load the data, build the model, fit it and compute the metrics; write nothing."""
    data, Y_heldout, heldout_names = split_features(
        load_dataset(cfg.dataset), cfg.heldout.fraction, cfg.heldout.seed
    )
    check_config(cfg, data)
    fit = _fit(data, cfg)
    heldout = None
    if Y_heldout is not None:
        heldout = xr.DataArray(
            Y_heldout, dims=("obs", "heldout_feature"), coords={"heldout_feature": heldout_names}
        )
    tree = build_tree(fit, data, cfg, config_yaml, heldout)
    return Experiment(data, fit, fit_metrics(fit, tree, data, cfg, Y_heldout, heldout_names), tree, cfg)


def _write_latent_plot(exp: Experiment, path: Path) -> None:
    """``latent.png``: the MAP, or for NUTS the clouds of aligned draws around each point.

    Non-linear kernels get the predictive variance as background: at the MAP, or for NUTS at the
    alignment reference with posterior-mean hyperparameters.
    """
    m, model_cfg = exp.metrics, exp.cfg.model
    where = f"{exp.data.name}, {m['kernel']} kernel, Q={m['latent_dim']}, beta={m['beta']:.3g}"
    hyper = m["hyperparameters"]  # the MAP's values, or posterior means
    if m["method"] == "nuts":
        post = exp.idata.posterior
        reference = exp.idata["alignment"]["Z_reference"].values
        plots.save_latent_posterior_plot(
            path,
            post["Z_aligned"].values,
            reference,
            exp.data.labels,
            title=f"GPLVM posterior: {where}",
            shading=latent_shading(reference, hyper, model_cfg),
        )
    else:
        Z = exp.fit.point_estimate()
        shading = latent_shading(Z, hyper, model_cfg)
        plots.save_latent_plot(path, [(f"GPLVM MAP: {where}", Z)], exp.data.labels, [shading])


def save_experiment(exp: Experiment, run_dir: Path, plot: bool = True) -> None:
    """Write ``posterior.nc``, ``latent.png`` and, last, ``metrics.json`` with status completed."""
    results.write_posterior(run_dir, exp.idata)
    if plot:
        results.write_atomic(run_dir / results.LATENT_PLOT, lambda p: _write_latent_plot(exp, p))
    results.write_metrics(run_dir, {"status": "completed", **exp.metrics})


def run_experiment(cfg: Config, run_dir: Path, config_yaml: str = "") -> dict:
    """Fit and save one experiment in ``run_dir``; on any error record it there and re-raise."""
    results.mark_running(run_dir)
    try:
        exp = fit_experiment(cfg, config_yaml)
        save_experiment(exp, run_dir, plot=cfg.plot)
    except BaseException as exc:
        results.mark_failed(run_dir, exc)
        raise
    return exp.metrics
