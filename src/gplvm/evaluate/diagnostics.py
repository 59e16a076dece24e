"""Rotation-aware NUTS diagnostics.

Raw Z is identified only up to Z -> Z R, so R-hat and ESS on raw entries report failure even when
the sampler works. This module adds to the posterior what *is* identified:

- ``Z_aligned``: every draw aligned to a common reference by orthogonal Procrustes;
- ``alignment_residual``: how far each aligned draw stays from that reference;
- invariants: ``log_likelihood``, ``log_posterior`` and ``singular_values`` of Z per draw
  (with an isotropic kernel and prior every rotation of Z has the same density; an ARD kernel
  keeps only reflections and permutations, which the alignment removes too);

and computes R-hat and ESS over them with ArviZ, next to the same figures on raw Z for contrast.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from xarray import DataTree

from gplvm.config import HYPERPARAMETER_NAMES
from gplvm.data.dataset import Dataset
from gplvm.evaluate.align import align_draws
from gplvm.model.spec import ModelSpec

INVARIANTS = ["log_likelihood", "log_posterior", "singular_values"]
GROUPS = {"invariants": INVARIANTS, "aligned": ["Z_aligned"], "raw": ["Z"]}
RHAT_MAX = 1.01  # Vehtari et al. (2021)
ESS_PER_CHAIN_MIN = 100


def column_log_likelihoods(posterior: xr.Dataset, data: Dataset, spec: ModelSpec) -> np.ndarray:
    """Each feature's log-likelihood log p(y_d | Z, theta) at every draw: (chain, draw, feature).

    Given Z and theta the columns are independent, so these sum to eq. 1 per draw; for the sparse
    form they are each column's share of the bound. O(N Q^2 D) per draw for woodbury.
    """
    Z = posterior["Z"].values
    flat = Z.reshape(-1, *Z.shape[-2:])
    hypers = spec.per_draw(posterior)
    where = "at a posterior draw"
    columns = [spec.column_log_likelihoods(z, data.Y, h, where) for z, h in zip(flat, hypers, strict=True)]
    return np.array(columns).reshape(*Z.shape[:2], data.n_features)


def draw_log_densities(
    posterior: xr.Dataset, data: Dataset, spec: ModelSpec, columns: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Log-likelihood and log posterior of every draw of ``Z`` (and learned hyperparameters).

    Both have shape (chain, draw). The log posterior includes the priors of learned
    hyperparameters, as :meth:`gplvm.model.spec.ModelSpec.log_posterior` defines it. ``columns``, the
    draws' :func:`column_log_likelihoods` when already computed, saves computing them again.
    """
    if columns is None:
        columns = column_log_likelihoods(posterior, data, spec)
    ll = columns.sum(axis=-1)
    Z = posterior["Z"].values
    flat = Z.reshape(-1, *Z.shape[-2:])
    prior = [spec.log_prior(z, h) for z, h in zip(flat, spec.per_draw(posterior), strict=True)]
    return ll, ll + np.reshape(prior, ll.shape)


def rotation_aware_posterior(
    posterior: xr.Dataset,
    data: Dataset,
    spec: ModelSpec,
    reference: np.ndarray | None,
    reference_name: str = "MAP",
    columns: np.ndarray | None = None,
) -> tuple[xr.Dataset, xr.Dataset]:
    """Add aligned latents and invariants to a posterior with ``Z`` (chain, draw, obs, latent_dim).

    Parameters
    ----------
    posterior : xr.Dataset
        The ``posterior`` group of a NUTS fit.
    data, spec : Dataset, ModelSpec
        The data and the model, for the log densities.
    reference : ndarray (N, Q) or None
        Where generalised Procrustes starts: the MAP when there is one, else the last draw of
        chain 0.
    columns : ndarray (chain, draw, feature), optional
        The draws' per-feature log-likelihoods, when already computed.

    Returns
    -------
    posterior : xr.Dataset
        With ``Z_aligned``, ``alignment_residual``, ``log_likelihood``, ``log_posterior`` and
        ``singular_values`` (chain, draw, latent_dim) added.
    alignment : xr.Dataset
        ``Z_reference`` (the final reference) and, when given, ``Z_start`` (the MAP); attrs say
        how the alignment was made.
    """
    Z = posterior["Z"].values
    start = Z[0, -1] if reference is None else reference
    alignment = align_draws(Z, start)
    ll, lp = draw_log_densities(posterior, data, spec, columns)
    dims = ("chain", "draw", "obs", "latent_dim")
    out = posterior.assign(
        Z_aligned=(dims, alignment.aligned),
        alignment_residual=(("chain", "draw"), alignment.residual),
        log_likelihood=(("chain", "draw"), ll),
        log_posterior=(("chain", "draw"), lp),
        singular_values=(("chain", "draw", "latent_dim"), np.linalg.svd(Z, compute_uv=False)),
    )
    group = xr.Dataset(
        {"Z_reference": (("obs", "latent_dim"), alignment.reference)},
        coords={"obs": posterior["obs"], "latent_dim": posterior["latent_dim"]},
        attrs={
            "method": "generalised orthogonal Procrustes (rotations and reflections, no scaling)",
            "started_from": reference_name if reference is not None else "last draw of chain 0",
            "iterations": alignment.iterations,
        },
    )
    if reference is not None:
        group = group.assign(Z_start=(("obs", "latent_dim"), reference))
    return out, group


def invariant_names(tree: DataTree) -> list[str]:
    """The rotation invariants plus the learned hyperparameters that ``tree.posterior`` holds."""
    return INVARIANTS + [name for name in HYPERPARAMETER_NAMES if name in tree.posterior]


def _extreme(result: DataTree | xr.Dataset, pick) -> float:
    ds = result.to_dataset() if isinstance(result, DataTree) else result
    values = np.concatenate([np.ravel(v.values) for v in ds.data_vars.values()])
    values = values[np.isfinite(values)]
    return float(pick(values)) if values.size else float("nan")


def convergence(tree: DataTree) -> dict[str, float]:
    """Largest R-hat and smallest bulk and tail ESS over the invariants, ``Z_aligned`` and raw ``Z``.

    Keys are ``rhat_max_<group>``, ``ess_bulk_min_<group>`` and ``ess_tail_min_<group>`` for the
    groups ``invariants`` (with any learned hyperparameters, which Z -> Z R leaves alone),
    ``aligned`` and ``raw``.
    """
    import arviz as az  # here: loading ArviZ costs about a second, and only draws need it

    out: dict[str, float] = {}
    for group, names in {**GROUPS, "invariants": invariant_names(tree)}.items():
        out[f"rhat_max_{group}"] = _extreme(az.rhat(tree, var_names=names), np.max)
        out[f"ess_bulk_min_{group}"] = _extreme(az.ess(tree, var_names=names, method="bulk"), np.min)
        out[f"ess_tail_min_{group}"] = _extreme(az.ess(tree, var_names=names, method="tail"), np.min)
    return out


def _first(stats: xr.Dataset, *names: str) -> xr.DataArray | None:
    return next((stats[n] for n in names if n in stats), None)


def sampler_stats(stats: xr.Dataset) -> dict[str, float | int]:
    """Divergences, step size and tree depth, for nutpie's or PyMC's names of the same stats."""
    out: dict[str, float | int] = {"divergences": int(stats["diverging"].values.sum())}
    step = _first(stats, "step_size")
    if step is not None:
        out["step_size_mean"] = float(step.values.mean())
    depth = _first(stats, "depth", "tree_depth")
    if depth is not None:
        out["tree_depth_mean"] = float(depth.values.mean())
        out["tree_depth_max"] = int(depth.values.max())
    hit = _first(stats, "maxdepth_reached", "reached_max_treedepth")
    if hit is not None:
        out["max_tree_depth_fraction"] = float(hit.values.mean())
    return out


def verdict(diag: dict, n_chains: int) -> tuple[bool, list[str]]:
    """Judge convergence on the rotation-free figures; return (converged, problems with advice)."""
    problems = []
    ess_min = ESS_PER_CHAIN_MIN * n_chains
    if n_chains < 2:
        problems.append("one chain: R-hat needs at least two to compare; set inference.chains=2 or more")
    for group in ("invariants", "aligned"):
        rhat = diag.get(f"rhat_max_{group}")
        if n_chains >= 2 and rhat is not None and not rhat <= RHAT_MAX:
            problems.append(
                f"R-hat of the {group} is {rhat:.3f} > {RHAT_MAX}: the chains disagree;"
                " sample longer (inference.tune, inference.draws) or use more chains"
            )
        for kind in ("bulk", "tail"):
            ess = diag.get(f"ess_{kind}_min_{group}")
            if ess is not None and not ess >= ess_min:
                problems.append(
                    f"{kind} ESS of the {group} is {ess:.0f} < {ess_min} ({ESS_PER_CHAIN_MIN} per chain):"
                    " raise inference.draws"
                )
    if diag.get("divergences", 0) > 0:
        problems.append(
            f"{diag['divergences']} divergent transitions: raise inference.target_accept (e.g. 0.95)"
        )
    if diag.get("max_tree_depth_fraction", 0.0) > 0.01:
        problems.append(
            f"{100 * diag['max_tree_depth_fraction']:.1f}% of draws hit the maximum tree depth:"
            " the posterior is hard to traverse; raise inference.tune or rescale the data"
        )
    return not problems, problems
