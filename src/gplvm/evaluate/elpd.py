"""Expected log predictive density over features: PSIS-LOO from the draws, exact K-fold by refits.

Given the latents and hyperparameters the columns of Y are independent, log p(Y | Z, theta) =
sum_d log N(y_d | 0, K), so the units left out are feature columns, not rows: the question is how
well the fitted latent space predicts a new measured feature. Both estimates come as ArviZ
``ELPDData`` (``ELPDDataLOO``, ``ELPDDataLOOKFold``), so they go straight into ``az.compare``.

- **PSIS-LOO** (:func:`loo`) works on a posterior run's ``log_likelihood`` group. Leaving one
  column out moves all N x Q latents, so with few features the importance weights are poor
  (Pareto k above ArviZ's threshold); with hundreds of features they are good.
- **K-fold** (:func:`kfold`) is exact and works for every fit method: K refits, each holding out
  one seeded fold of the columns and scoring each held-out column by its log predictive density
  log mean_s p(y_d | Z_s, theta_s) (one draw for MAP), as the held-out score does.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
import xarray as xr
from scipy.special import logsumexp

from gplvm.data.dataset import Dataset
from gplvm.errors import ConfigError
from gplvm.model.spec import ModelSpec

log = logging.getLogger("gplvm")

VAR_NAME = "Y"  # the variable of the log_likelihood group


def loo(tree) -> object:
    """PSIS-LOO over the features of a run with a ``log_likelihood`` group, pointwise.

    A variational run's draws come from q, not the posterior: its ``variational`` group's
    ``log_p`` and ``log_q`` correct the importance weights for that
    (``arviz_stats.loo_approximate_posterior``; :mod:`gplvm.evaluate.q_quality`). Runs written
    before they were stored fall back to plain PSIS-LOO on q's draws, with relative efficiency 1
    (they are independent). ArviZ's warning about high Pareto k is not raised:
    :func:`loo_summary` reports it.
    """
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if "variational" in tree and "log_p" in tree["variational"]:
            from arviz_stats import loo_approximate_posterior

            q = tree["variational"]
            return loo_approximate_posterior(tree, q["log_p"], q["log_q"], pointwise=True, var_name=VAR_NAME)
        reff = None if "sample_stats" in tree else 1.0
        return az.loo(tree, pointwise=True, var_name=VAR_NAME, reff=reff)


def loo_method(result) -> str:
    """How a :func:`loo` result was estimated, for the record and the reports."""
    if getattr(result, "approx_posterior", False):
        return "PSIS-LOO corrected for q (draws from the variational q, weighted by p/q)"
    return "PSIS-LOO"


def loo_summary(result) -> dict:
    """The ``metrics.json`` figures of a PSIS-LOO result, with a warning and remedy when k is high."""
    k = np.asarray(result.pareto_k.values, dtype=float)
    bad = int(np.sum(k > result.good_k))
    out = {
        "elpd_loo": float(result.elpd),
        "elpd_loo_se": float(result.se),
        "p_loo": float(result.p),
        "pareto_k_max": float(np.max(k)),
        "pareto_k_threshold": float(result.good_k),
        "n_pareto_k_bad": bad,
        "loo_method": loo_method(result),
        "loo_warning": None,
    }
    if bad:
        out["loo_warning"] = (
            f"PSIS-LOO is unreliable: {bad} of {k.size} features have Pareto k > {result.good_k:.2f}"
            f" (largest {np.max(k):.2f}); use K-fold over features instead"
            f" (kfold.folds={suggested_folds(k.size)}, or gplvm-compare --kfold {suggested_folds(k.size)})"
        )
    return out


def suggested_folds(n_features: int) -> int:
    """The K to suggest for K-fold over features: 10, or D when there are fewer features."""
    return max(2, min(10, n_features))


def stacking_weights(pointwise: np.ndarray, tol: float = 1e-12, max_iter: int = 100_000) -> np.ndarray:
    """Stacking weights (Yao et al. 2018) of K models from their pointwise elpds (K, D).

    The weights maximise sum_d log sum_k w_k exp(elpd_kd) on the simplex: the mixture weights of
    fixed component densities, found by EM (w_k <- mean_d of model k's responsibility for d),
    which increases the objective at every step. Everything stays in log space, so log densities
    in the thousands do not underflow.
    """
    pointwise = np.asarray(pointwise, dtype=float)
    weights = np.full(len(pointwise), 1.0 / len(pointwise))
    for _ in range(max_iter):
        with np.errstate(divide="ignore"):
            joint = np.log(weights)[:, None] + pointwise
        responsibility = np.exp(joint - logsumexp(joint, axis=0))
        updated = responsibility.mean(axis=1)
        if np.max(np.abs(updated - weights)) < tol:
            return updated
        weights = updated
    return weights


def fold_of_each_feature(n_features: int, folds: int, seed: int) -> np.ndarray:
    """A seeded assignment of the feature columns to ``folds`` folds of (nearly) equal size: 0..K-1."""
    if not 2 <= folds <= n_features:
        raise ConfigError(
            f"kfold.folds={folds} is invalid: it must lie in [2, {n_features}] (D = {n_features})"
        )
    order = np.random.default_rng(seed).permutation(n_features)
    fold = np.empty(n_features, dtype=int)
    fold[order] = np.arange(n_features) % folds
    return fold


def lppd(columns: np.ndarray) -> np.ndarray:
    """Log pointwise predictive density per feature, log mean_s p(y_d | draw s), from (..., D) terms."""
    flat = columns.reshape(-1, columns.shape[-1])
    return logsumexp(flat, axis=0) - np.log(len(flat))


def heldout_lpd(
    Z_draws: np.ndarray, hypers: list[dict], Y_heldout: np.ndarray, spec: ModelSpec, where: str
) -> np.ndarray:
    """log mean_s p(y_d | Z_s, theta_s) for each column of ``Y_heldout``: Z_draws (S, N, Q), S hypers."""
    per_draw = [
        spec.column_log_likelihoods(Z, Y_heldout, h, where) for Z, h in zip(Z_draws, hypers, strict=True)
    ]
    return lppd(np.stack(per_draw))


def column_lpd(fit, spec: ModelSpec, Y_heldout: np.ndarray) -> np.ndarray:
    """:func:`heldout_lpd` under a fit's draws (or point)."""
    posterior = fit.idata.posterior
    Z = posterior["Z"].values.reshape(-1, *posterior["Z"].shape[2:])
    return heldout_lpd(Z, spec.per_draw(posterior.to_dataset()), Y_heldout, spec, "at a K-fold draw")


def kfold(data: Dataset, spec: ModelSpec, method, seed: int, folds: int, fold_seed: int, lppd=None):
    """Exact K-fold cross-validation over the feature columns of ``data``: K refits with ``method``.

    Parameters
    ----------
    data, spec, method, seed
        What the run fitted: the data (its fitted columns), the model, the fit method and seed.
    folds, fold_seed
        K and the seed of the fold assignment.
    lppd : ndarray (D,), optional
        The full fit's log pointwise predictive density per feature, for ``p_kfold`` = lppd - elpd.

    Returns
    -------
    ELPDDataLOOKFold
        With ``elpd_i`` over ``feature`` and the fold of each feature in ``fold``.
    """
    from arviz_stats.utils import ELPDDataLOOKFold

    fold = fold_of_each_feature(data.n_features, folds, fold_seed)
    elpd_i = np.empty(data.n_features)
    n_samples = 0
    for k in range(folds):
        started = time.perf_counter()
        held, keep = np.flatnonzero(fold == k), np.flatnonzero(fold != k)
        train = data.with_features(keep)
        fit = method.fit(method.build_model(train, spec), train, spec, seed)
        elpd_i[held] = column_lpd(fit, spec, data.Y[:, held])
        n_samples = fit.idata.posterior.sizes["chain"] * fit.idata.posterior.sizes["draw"]
        log.info(
            "K-fold: fold %d/%d (%d features held out) scored in %.1f s, elpd so far %.2f",
            k + 1,
            folds,
            len(held),
            time.perf_counter() - started,
            float(elpd_i[fold <= k].sum()),
        )
    features = np.asarray(data.feature_names, dtype=str)
    elpd_da = xr.DataArray(elpd_i, dims="feature", coords={"feature": features})
    p_i = (
        None
        if lppd is None
        else xr.DataArray(np.asarray(lppd) - elpd_i, dims="feature", coords=elpd_da.coords)
    )
    return ELPDDataLOOKFold(
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(data.n_features * np.var(elpd_i))),
        p=float("nan") if p_i is None else float(p_i.sum()),
        n_samples=n_samples,
        n_data_points=data.n_features,
        scale="log",
        warning=False,
        good_k=None,
        elpd_i=elpd_da,
        n_folds=folds,
        p_kfold_i=p_i,
    ), fold


def kfold_group(result, fold: np.ndarray, seed: int) -> xr.Dataset:
    """The run's ``kfold`` group: ``elpd_i`` and ``fold`` over ``feature``; the totals and the fold
    seed as attrs."""
    return xr.Dataset(
        {"elpd_i": result.elpd_i, "fold": ("feature", fold)},
        attrs={
            "elpd": result.elpd,
            "se": result.se,
            "p": result.p,
            "n_folds": result.n_folds,
            "n_samples": result.n_samples,
            "seed": seed,
        },
    )


def kfold_from_group(group: xr.Dataset):
    """An ``ELPDDataLOOKFold`` back from a run's ``kfold`` group."""
    from arviz_stats.utils import ELPDDataLOOKFold

    attrs = group.attrs
    return ELPDDataLOOKFold(
        elpd=float(attrs["elpd"]),
        se=float(attrs["se"]),
        p=float(attrs["p"]),
        n_samples=int(attrs["n_samples"]),
        n_data_points=group.sizes["feature"],
        scale="log",
        warning=False,
        good_k=None,
        elpd_i=group["elpd_i"],
        n_folds=int(attrs["n_folds"]),
    )


def kfold_summary(result) -> dict:
    """The ``metrics.json`` figures of a K-fold result."""
    return {
        "elpd_kfold": float(result.elpd),
        "elpd_kfold_se": float(result.se),
        "p_kfold": float(result.p),
        "kfold_folds": int(result.n_folds),
    }
