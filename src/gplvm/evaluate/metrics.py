"""Scalar summaries of a fit, gathered into the run's :class:`~gplvm.evaluate.record.RunMetrics`.

With the woodbury form everything here is O(N Q^2 + N Q D): no N x N matrix is formed, so it
works at any N that form does. The dense form factorises K once per point (once per draw).
"""

from __future__ import annotations

import logging

import numpy as np
from xarray import DataTree

from gplvm.config import Config, Noise
from gplvm.data.dataset import Dataset
from gplvm.data.missing import filled
from gplvm.evaluate import diagnostics, elpd
from gplvm.evaluate.baselines import pca_scores
from gplvm.evaluate.elpd import heldout_lpd
from gplvm.evaluate.guards import runaway_hyperparameters
from gplvm.evaluate.q_quality import q_summary
from gplvm.evaluate.record import RunMetrics
from gplvm.evaluate.shading import top_two
from gplvm.inference import Fit
from gplvm.inference.svi_counts import CountData
from gplvm.model.analytic import gram_relative_error
from gplvm.model.spec import ModelSpec

log = logging.getLogger(__name__)

ANALYTIC_KEYS = ("analytic_log_posterior", "analytic_gap", "analytic_gap_relative", "gram_rel_error")


def analytic_metrics(Z: np.ndarray, data: Dataset, spec: ModelSpec, hyper: dict) -> dict[str, float | None]:
    """Log-likelihood and log posterior at ``Z`` and, when the kernel has one, the gap to the optimum.

    ``analytic_gap`` is the analytic optimum's log posterior minus that of ``Z``, both at the
    hyperparameters ``hyper`` (a learned beta at its fitted value: the joint MAP's Z is the
    analytic optimum given that beta). It is >= 0 up to rounding, which at the scale of the
    objective is about 1e-16 * |log_posterior|. ``gram_rel_error`` is
    ||Z Z^T - Z* Z*^T||_F / ||Z* Z*^T||_F, free of the rotation Z* R. Without an analytic
    optimum those four keys are null.
    """
    log_lik = spec.log_likelihood(Z, data.Y, hyper)
    log_post = log_lik + spec.log_prior(Z, hyper)
    out: dict[str, float | None] = {"log_likelihood": log_lik, "log_posterior": log_post}
    optimum = spec.analytic_optimum(data.Y, hyper)
    if optimum is None:
        return {**out, **dict.fromkeys(ANALYTIC_KEYS)}
    analytic = spec.log_posterior(optimum.Z, data.Y, hyper)
    return {
        **out,
        "analytic_log_posterior": analytic,
        "analytic_gap": analytic - log_post,
        "analytic_gap_relative": (analytic - log_post) / abs(analytic),
        "gram_rel_error": gram_relative_error(Z, optimum.Z),
    }


def nearest_neighbour_error(Z: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out 1-nearest-neighbour error rate of ``labels`` in the latent space Z.

    Each point is classified by the label of its nearest other point (Euclidean), the figure
    Lawrence (2005) uses to compare latent spaces. A KD-tree keeps it O(N log N) for small Q.
    """
    from scipy.spatial import KDTree

    _, idx = KDTree(Z).query(Z, k=2)
    rows = np.arange(len(Z))
    # With duplicate points the query itself need not come first; take the first other index.
    nearest = np.where(idx[:, 0] == rows, idx[:, 1], idx[:, 0])
    return float(np.mean(labels[nearest] != labels))


def pca_baseline(data: Dataset, latent_dim: int, spec: ModelSpec | None = None) -> np.ndarray:
    """PCA scores of the fitted data with Q dims, the baseline of the latent-space figures; for a
    count likelihood, of the log1p-normalised counts that also start the fit."""
    dims = min(latent_dim, data.n_features, data.n_obs)
    if spec is not None and spec.noise != Noise.gaussian:
        U, sing = CountData.of(data, spec).pca(dims)
        return U * sing
    Y = filled(data.Y) if data.n_missing else data.Y  # missing cells at their column's mean
    return pca_scores(Y, dims, centred=True)


def procrustes_metrics(Z: np.ndarray, data: Dataset, pca: np.ndarray) -> dict:
    """How far the fitted latents Z and the PCA scores ``pca`` are from the data's true latents
    (when it has them, with as many dims): Procrustes disparity, the squared distance left after
    removing translation, scale, rotation and reflection, with both sides scaled to unit norm
    (0 best, 1 worst)."""
    if data.Z_true is None or data.Z_true.shape[1] != Z.shape[1]:
        return {}
    from scipy.spatial import procrustes

    return {
        "procrustes_error": float(procrustes(data.Z_true, Z)[2]),
        "pca_procrustes_error": float(procrustes(data.Z_true, pca)[2]),
    }


def neighbour_metrics(
    Z: np.ndarray, data: Dataset, latent_dim: int, relevance=None, pca: np.ndarray | None = None
) -> dict:
    """1-NN error of the fitted latent space and of PCA with as many dims (null without labels).

    ``pca``: the PCA scores to compare with (:func:`pca_baseline`), by default those of the
    fitted data. With ARD ``relevance`` and Q > 2, also in the two most relevant dims (the ones
    plotted).
    """
    if data.labels is None:
        return {"knn_error": None, "pca_knn_error": None}

    if pca is None:
        pca = pca_baseline(data, latent_dim)
    out = {
        "knn_error": nearest_neighbour_error(Z, data.labels),
        "pca_knn_error": nearest_neighbour_error(pca, data.labels),
    }
    if relevance is not None and latent_dim > 2:
        out["knn_error_relevant"] = nearest_neighbour_error(Z[:, list(top_two(relevance))], data.labels)
    return out


def reconstruction_rmse(
    Z: np.ndarray, Y: np.ndarray, spec: ModelSpec, hyper: dict, chunk: int = 65_536
) -> float:
    """In-sample reconstruction error: RMSE of Y against its predictive mean at the fitted latents.

    In the units of the fitted data (centred, and scaled when ``dataset.standardize``), over the
    observed cells. Rows go ``chunk`` at a time, so no second N x D array is held at 10^6 rows.
    """
    hyper = {name: np.asarray(value, dtype=float) for name, value in hyper.items()}
    predict = spec.form.predictor(Z, Y, hyper)  # the fit's factors once, for every chunk
    total, count = 0.0, 0
    for start in range(0, len(Z), chunk):
        mean, _ = predict(Z[start : start + chunk])
        error = Y[start : start + chunk] - mean
        total += float(np.nansum(error**2))
        count += int(np.count_nonzero(~np.isnan(error)))
    return float(np.sqrt(total / count))


def heldout_metrics(
    Z_draws: np.ndarray, hypers: list[dict], Y_heldout: np.ndarray, spec: ModelSpec, names: list[str]
) -> dict:
    """Score held-out feature columns under N(0, K) with the fitted Z and hyperparameters.

    ``Z_draws`` is (S, N, Q) and ``hypers`` has S dicts: one draw for MAP, all posterior draws for
    NUTS. Each column's score is its log predictive density, log mean_s p(y_j | Z_s, theta_s),
    which for one draw is the plain log density; ``heldout_log_lik_per_feature`` averages it
    over the held-out columns.
    """
    per_column = heldout_lpd(Z_draws, hypers, Y_heldout, spec, "at a held-out draw")
    return {
        "n_heldout_features": len(names),
        "heldout_log_lik_per_feature": float(per_column.mean()),
        "heldout_log_lik_by_feature": dict(zip(names, per_column.tolist(), strict=True)),
    }


def latent_prior_record(spec: ModelSpec, posterior) -> dict:
    """The structured latent prior's settings and hyperparameter (fitted: the posterior mean)."""
    prior = spec.latent_prior
    theta = float(posterior[prior.parameter].mean()) if prior.parameter in posterior else prior.start
    return prior.record(theta)


def fit_metrics(
    fit: Fit,
    tree: DataTree,
    data: Dataset,
    cfg: Config,
    spec: ModelSpec,
    Y_heldout: np.ndarray | None = None,
    heldout_names: list[str] | None = None,
) -> RunMetrics:
    """The figures written to ``metrics.json`` for a completed fit.

    For a point estimate the densities and the analytic gap are those of the point. For a fit
    with draws ``log_likelihood`` and ``log_posterior`` are posterior means over draws (``tree``
    must hold the invariants from :func:`gplvm.evaluate.diagnostics.rotation_aware_posterior`), the
    convergence figures come from ArviZ, and the ``map_*`` figures and the analytic gap describe
    the MAP the chains started from (null when they started elsewhere).
    """
    posterior = tree.posterior.to_dataset()
    fitted = spec.summary(posterior)
    out: dict = {
        "method": fit.method,
        "dataset": data.name,
        "n_obs": data.n_obs,
        "n_features": data.n_features,
        "n_missing": data.n_missing,
        "latent_dim": spec.latent_dim,
        "kernel": spec.kernel.name,
        "ard": spec.kernel.ard,
        "beta": fitted["beta"],
        "hyperparameters": fitted,
        "learned": list(spec.learned),
        "prior_scale": spec.prior_scale,
        "likelihood": spec.form.name,
        "num_inducing": spec.form.inducing_count(data.n_obs),
        "backend": cfg.inference.backend,
        "seed": cfg.seed,
        "compile_seconds": fit.compile_seconds,
        "fit_seconds": fit.fit_seconds,
        **fit.info,
    }
    relevance = spec.kernel.relevance(fitted)
    if relevance is not None:
        out["latent_dim_sensitivity"] = relevance.tolist()
        relevance = relevance.tolist()
    out["heldout_fraction"] = cfg.heldout.fraction
    out["n_heldout_features"] = 0
    if Y_heldout is not None:
        Z_draws = posterior["Z"].values.reshape(-1, data.n_obs, spec.latent_dim)
        out.update(heldout_metrics(Z_draws, spec.per_draw(posterior), Y_heldout, spec, heldout_names or []))
    fitted_Z = tree["alignment"]["Z_reference"].values if fit.has_draws else fit.point_estimate()
    # one PCA baseline for the 1-NN and Procrustes figures, when the data have labels or true latents
    pca = None
    if data.labels is not None or data.Z_true is not None:
        pca = pca_baseline(data, spec.latent_dim, spec)
    out.update(neighbour_metrics(fitted_Z, data, spec.latent_dim, relevance, pca))
    out.update(procrustes_metrics(fitted_Z, data, pca))
    if not fit.has_draws:
        out.update(analytic_metrics(fit.point_estimate(), data, spec, spec.first_draw(posterior)))
    else:
        out["log_likelihood"] = float(posterior["log_likelihood"].mean())
        out["log_posterior"] = float(posterior["log_posterior"].mean())
        if "sample_stats" in tree:  # a sampler's draws; draws from a fitted q are independent
            out.update(diagnostics.sampler_stats(tree.sample_stats.to_dataset()))
            out.update(diagnostics.convergence(tree))
            out["converged"], out["diagnostic_problems"] = diagnostics.verdict(out, posterior.sizes["chain"])
        out["alignment_residual_mean"] = float(posterior["alignment_residual"].mean())
        if fit.start is not None and fit.start.method == "map":
            at_map = analytic_metrics(
                fit.point_estimate(), data, spec, spec.first_draw(fit.start.idata.posterior.to_dataset())
            )
            out["map_log_likelihood"] = at_map.pop("log_likelihood")
            out["map_log_posterior"] = at_map.pop("log_posterior")
            out.update(at_map)
            out["map_compile_seconds"] = fit.start.compile_seconds
            out["map_fit_seconds"] = fit.start.fit_seconds
    if spec.noise == Noise.gaussian:  # counts: the Gaussian predictive mean does not apply
        out["reconstruction_rmse"] = reconstruction_rmse(
            fitted_Z, data.Y, spec, {**fitted, **spec.form_values(posterior)}
        )
    out["train_log_lik_per_feature"] = out["log_likelihood"] / data.n_features

    if "variational" in tree and "log_p" in tree["variational"]:
        out.update(q_summary(tree["variational"].to_dataset()))
        if out["q_warning"]:
            log.warning("%s", out["q_warning"])
    if "log_likelihood" in tree:
        out.update(elpd.loo_summary(elpd.loo(tree)))
    if "kfold" in tree:
        out.update(elpd.kfold_summary(elpd.kfold_from_group(tree["kfold"].to_dataset())))
    if spec.latent_prior is not None:
        out["latent_prior"] = latent_prior_record(spec, posterior)
    if spec.back_constraint is not None:
        out["latent_prior"] = spec.back_constraint.record()
    problems = runaway_hyperparameters(fitted, list(spec.learned), data.Y)
    if problems:
        for problem in problems:
            log.warning("NOT converged: %s", problem)
        out["converged"] = False
        out["convergence"] = "hyperparameter ran away"
        out["diagnostic_problems"] = [*(out.get("diagnostic_problems") or []), *problems]
    return RunMetrics(status="completed", **out)
