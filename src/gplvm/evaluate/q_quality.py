"""How far a variational run's q(Z) is from the posterior it stands in for, and LOO corrected for it.

A variational run's draws come from q(Z), not from p(Z | Y, theta) (theta at the fitted values).
Their importance ratios r_s = p(Z_s, Y) / q(Z_s), known up to a constant, measure the gap: the
Pareto k of the ratios' upper tail (Yao, Vehtari, Simpson and Gelman 2018, "Yes, but did it
work?") is small when q covers the posterior and above ArviZ's threshold, min(1 - 1/log10(S),
0.7), when estimates from q cannot be trusted. The same ratios correct PSIS-LOO over features
for drawing from q (``arviz_stats.loo_approximate_posterior``).

The target density is log p(Y | Z_s, theta) + log p(Z_s): with the exact (dense) likelihood up to
:data:`EXACT_MAX_ROWS` rows, the collapsed sparse bound at the fitted inducing inputs above, and
for count likelihoods the uncollapsed bound at the fitted q(u) (the run records which, as
``q_log_p``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gplvm.model.forms.dense import Dense
from gplvm.model.spec import ModelSpec

EXACT_MAX_ROWS = 500  # one N x N Cholesky factor per draw: 500 draws at N = 500 take a few seconds
EXACT, BOUND = "exact", "collapsed_bound"
UNCOLLAPSED = "uncollapsed_bound"  # count likelihoods: each column's bound at q(u) (inference=svi)


def target_spec(spec: ModelSpec, n_obs: int) -> tuple[ModelSpec, str]:
    """The spec whose likelihood scores a variational run's draws, and which one it is."""
    if n_obs <= EXACT_MAX_ROWS:
        return replace(spec, form=Dense(spec.kernel)), EXACT
    return spec, BOUND


def importance_pareto_k(log_p: np.ndarray, log_q: np.ndarray) -> tuple[float, float]:
    """(Pareto k of the importance ratios log p - log q over all draws, ArviZ's threshold).

    Ratios that are all equal (q is the posterior, up to its constant) have no tail: k = -inf.
    """
    from arviz_stats.base import array_stats

    ratios = np.ravel(np.asarray(log_p, dtype=float) - np.asarray(log_q, dtype=float))
    threshold = min(1.0 - 1.0 / np.log10(ratios.size), 0.7)
    if np.ptp(ratios) <= 1e-12 * max(1.0, np.abs(ratios).max()):
        return -np.inf, threshold
    # psislw smooths weights exp(-x) (it is made for 1 / p(y_i | theta)): so pass minus the ratios
    _, k = array_stats.psislw(ratios.max() - ratios, r_eff=1)
    return float(k), threshold


def q_summary(variational) -> dict:
    """The ``metrics.json`` figures of q's quality from a run's ``variational`` group (with
    ``log_p`` and ``log_q``), with a warning and the remedies when k is high."""
    k, threshold = importance_pareto_k(variational["log_p"].values, variational["log_q"].values)
    out = {
        "q_pareto_k": k,
        "q_pareto_k_threshold": threshold,
        "q_log_p": variational["log_p"].attrs.get("likelihood"),
        "q_warning": None,
    }
    if k > threshold:
        # NUTS samples the Gaussian model only: a count run's remedies are its own
        nuts = "" if out["q_log_p"] == UNCOLLAPSED else " sample the same model with inference=nuts,"
        out["q_warning"] = (
            f"q(Z) is far from the posterior: the importance ratios' Pareto k is {k:.2f} > {threshold:.2f},"
            f" so figures from its draws (uncertainties, LOO) are unreliable;{nuts} use more inducing"
            " points (model.num_inducing), or try another model.latent_dim"
        )
    return out
