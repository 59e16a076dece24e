"""Scalar summaries of a fit, including its distance to the analytic optimum.

Everything here is O(N Q^2 + N Q D): no N x N matrix is formed, so it works at any N the
woodbury likelihood does.
"""

from __future__ import annotations

import numpy as np

from gplvm import closed_form
from gplvm.config import Config, MapConfig
from gplvm.data import Dataset
from gplvm.inference import Fit


def analytic_metrics(Z: np.ndarray, data: Dataset, cfg: Config) -> dict[str, float]:
    """Log-likelihood and log posterior at ``Z`` and their gap to the analytic optimum.

    ``analytic_gap`` is the analytic optimum's log posterior minus that of ``Z``: it is >= 0 up to
    rounding, which at the scale of the objective is about 1e-16 * |log_posterior|.
    ``gram_rel_error`` is ||Z Z^T - Z* Z*^T||_F / ||Z* Z*^T||_F, free of the rotation Z* R.
    """
    m = cfg.model
    optimum = closed_form.analytic_optimum(data.Y, m.latent_dim, m.beta, m.prior_scale)
    log_post = closed_form.log_posterior(Z, data.Y, m.beta, m.prior_scale)
    analytic = closed_form.log_posterior(optimum.Z, data.Y, m.beta, m.prior_scale)
    return {
        "log_likelihood": closed_form.log_likelihood(Z, data.Y, m.beta),
        "log_posterior": log_post,
        "analytic_log_posterior": analytic,
        "analytic_gap": analytic - log_post,
        "analytic_gap_relative": (analytic - log_post) / abs(analytic),
        "gram_rel_error": closed_form.gram_relative_error(Z, optimum.Z),
    }


def draw_log_densities(Z_draws: np.ndarray, data: Dataset, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Log-likelihood and log posterior of every draw; ``Z_draws`` has shape (chain, draw, N, Q)."""
    m = cfg.model
    flat = Z_draws.reshape(-1, *Z_draws.shape[-2:])
    ll = np.array([closed_form.log_likelihood(Z, data.Y, m.beta) for Z in flat])
    lp = ll + np.array([closed_form.log_prior(Z, m.prior_scale) for Z in flat])
    return ll.reshape(Z_draws.shape[:2]), lp.reshape(Z_draws.shape[:2])


def fit_metrics(fit: Fit, data: Dataset, cfg: Config) -> dict:
    """The figures written to ``metrics.json`` for a completed fit.

    For MAP the densities and the analytic gap are those of the MAP. For NUTS ``log_likelihood``
    and ``log_posterior`` are posterior means over draws; the ``map_*`` figures and the analytic
    gap describe the MAP the chains started from (null when they started elsewhere).
    """
    method = "map" if isinstance(cfg.inference, MapConfig) else "nuts"
    out: dict = {
        "method": method,
        "dataset": data.name,
        "n_obs": data.n_obs,
        "n_features": data.n_features,
        "latent_dim": cfg.model.latent_dim,
        "beta": cfg.model.beta,
        "prior_scale": cfg.model.prior_scale,
        "likelihood": cfg.model.likelihood.value,
        "backend": cfg.inference.backend,
        "seed": cfg.seed,
        "compile_seconds": fit.compile_seconds,
        "fit_seconds": fit.fit_seconds,
    }
    if method == "map":
        out.update(analytic_metrics(fit.point_estimate(), data, cfg))
        out.update(fit.info)
        return out

    ll, lp = draw_log_densities(fit.idata.posterior["Z"].values, data, cfg)
    out.update({"log_likelihood": float(ll.mean()), "log_posterior": float(lp.mean())})
    out.update(fit.info)
    keys = ("analytic_log_posterior", "analytic_gap", "analytic_gap_relative", "gram_rel_error")
    if fit.map_fit is None:
        out.update(dict.fromkeys(("map_log_likelihood", "map_log_posterior", *keys)))
    else:
        at_map = analytic_metrics(fit.point_estimate(), data, cfg)
        out["map_log_likelihood"] = at_map.pop("log_likelihood")
        out["map_log_posterior"] = at_map.pop("log_posterior")
        out.update(at_map)
        out["map_compile_seconds"] = fit.map_fit.compile_seconds
        out["map_fit_seconds"] = fit.map_fit.fit_seconds
    return out
