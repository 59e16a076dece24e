"""Build the GPLVM as a ``pm.Model``: Z ~ Normal, hyperparameters, and eq. 1 as a ``pm.Potential``.

:func:`build_variational_model` builds the Bayesian GPLVM's objective instead: q(Z)'s means and
variances as free variables, the sparse bound under q and the KL term as potentials.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from gplvm.config import PriorConfig, PriorDist
from gplvm.data.dataset import Dataset
from gplvm.data.missing import filled
from gplvm.model.latent_priors import WHITENED
from gplvm.model.latent_priors.back_constraint import CENTRES, LENGTHSCALE, WEIGHTS
from gplvm.model.latent_priors.back_constraint import WHITENED as BC_WHITENED
from gplvm.model.spec import ModelSpec
from gplvm.model.variational_bound import (
    expected_log_likelihood,
    expected_missing_log_likelihood,
    gaussian_kl,
)


def coords_for(data: Dataset, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Coordinates for the named dims ``obs``, ``feature``, ``latent_dim`` and the form's own."""
    coords = {
        "obs": np.arange(data.n_obs),
        "feature": np.asarray(data.feature_names, dtype=str),
        "latent_dim": np.arange(spec.latent_dim),
        **spec.form.coords(data.n_obs),
    }
    if spec.back_constraint is not None:
        coords["centre"] = np.arange(len(spec.back_constraint.centres))
        coords["bc_basis"] = np.arange(len(spec.back_constraint.basis[1]))
    return coords


def _learned(name: str, prior: PriorConfig, start, dims: str | None):
    """A positive hyperparameter with its prior, starting at its configured value.

    Parameters are passed as float64 arrays: PyMC stores a Python float that float32 holds exactly
    (3.0, say) as a float32 constant and then takes log(sigma) in float32, 2e-8 off per element.
    """
    mu, sigma = np.float64(prior.mu), np.float64(prior.sigma)
    if prior.dist == PriorDist.lognormal:
        return pm.LogNormal(name, mu=mu, sigma=sigma, initval=start, dims=dims)
    return pm.HalfNormal(name, sigma=sigma, initval=start, dims=dims)


def _data_and_hyperparameters(data: Dataset, spec: ModelSpec) -> tuple:
    """``Y``, ``Y_sq_norm`` and the hyperparameters (free with priors, or fixed ``pm.Data``)."""
    # borrow: the shared variable uses data.Y itself rather than a copy (0.5 GB at 10^6 rows).
    # pm.Data takes no NaN: missing cells are stored as 0 and marked by Y_observed.
    if data.n_missing:
        Y = pm.Data("Y", filled(data.Y), dims=("obs", "feature"))
        pm.Data("Y_observed", ~np.isnan(data.Y), dims=("obs", "feature"))
        Y_sq_norm = pm.Data("Y_sq_norm", float(np.nansum(data.Y**2)))
    else:
        Y = pm.Data("Y", data.Y, dims=("obs", "feature"), borrow=True)
        Y_sq_norm = pm.Data("Y_sq_norm", float(np.einsum("nd,nd->", data.Y, data.Y)))
    return Y, Y_sq_norm, hyperparameter_variables(spec)


def hyperparameter_variables(spec: ModelSpec, rename: Callable[[str], str] = str) -> dict:
    """The spec's hyperparameters by name: free with their priors when learned, else fixed
    ``pm.Data``; ``rename`` gives each its PyMC name (a view's suffixed one, say)."""
    hyper = {}
    for name, value in spec.configured.items():
        dims = "latent_dim" if np.ndim(value) else None
        if name in spec.learned:
            hyper[name] = _learned(rename(name), spec.priors[name], value, dims)
        else:
            hyper[name] = pm.Data(rename(name), value, dims=dims)
    return hyper


def _form_parameters(spec: ModelSpec, fixed: Mapping[str, np.ndarray] | None) -> dict:
    """The form's variational parameters: free (flat: they index a bound, not a model) or fixed.

    Fixed values are stored as deterministics, so that every draw of the posterior carries them.
    """
    out = {}
    for name, dims in spec.form.parameter_dims.items():
        if fixed is not None and name in fixed:
            out[name] = pm.Deterministic(name, pt.as_tensor(np.asarray(fixed[name], dtype=float)), dims=dims)
        else:
            out[name] = pm.Flat(name, dims=dims)
    return out


def _latent_prior_parameter(spec: ModelSpec) -> pt.TensorVariable:
    """The structured latent prior's hyperparameter: free with its prior, or fixed ``pm.Data``."""
    prior = spec.latent_prior
    start = np.float64(prior.start)
    if prior.learn:
        return _learned(prior.parameter, prior.parameter_prior, start, None)
    return pm.Data(prior.parameter, start)


def _back_constrained_latents(data: Dataset, spec: ModelSpec) -> pt.TensorVariable:
    """Z = k(Y, C) W with W ~ Normal(0, weight_scale), through whitened coordinates A ~ Normal(0, 1)
    (:mod:`gplvm.model.latent_priors.back_constraint`); W is a deterministic, and the centres and
    the mapping's length scale are stored (constant data) so that a loaded run can evaluate g."""
    bc = spec.back_constraint
    pm.Data(CENTRES, bc.centres, dims=("centre", "feature"))
    pm.Data(LENGTHSCALE, np.float64(bc.lengthscale))
    A = pm.Normal(BC_WHITENED, mu=0.0, sigma=np.float64(1.0), dims=("bc_basis", "latent_dim"))
    pm.Deterministic(WEIGHTS, bc.weights(A), dims=("centre", "latent_dim"))
    return pm.Deterministic("Z", bc.whitened_latents(A), dims=("obs", "latent_dim"))


def _latents(spec: ModelSpec, noncentred: bool = False) -> pt.TensorVariable:
    """Z with its prior: iid Normal, or a structured prior with its hyperparameter learned or fixed.

    A structured prior is centred (Z free, its log density a potential: the MAP) or non-centred
    (Z a function of V ~ Normal(0, 1), for the GP Z = L_t V: the geometry NUTS samples well, as
    the prior's hyperparameter no longer stretches Z's scale).
    """
    prior = spec.latent_prior
    dims = ("obs", "latent_dim")
    if prior is None:
        return pm.Normal("Z", mu=0.0, sigma=np.float64(spec.prior_scale), dims=dims)
    theta = _latent_prior_parameter(spec)
    if noncentred:
        white = pm.Normal(WHITENED, mu=0.0, sigma=np.float64(1.0), dims=dims)
        return pm.Deterministic("Z", prior.noncentred(white, theta), dims=dims)
    Z = pm.Flat("Z", dims=dims)
    pm.Potential("latent_prior", prior.log_density(Z, theta))
    return Z


def build_model(
    data: Dataset, spec: ModelSpec, fixed: Mapping[str, np.ndarray] | None = None, noncentred: bool = False
) -> pm.Model:
    """Return the GPLVM model for ``data``.

    Learned hyperparameters are free variables with their configured priors (log-transformed by
    PyMC, so unconstrained for the optimiser and the sampler) and start at their configured
    values. Fixed ones, ``Y`` and ``Y_sq_norm`` (||Y||_F^2, computed once here rather than at
    every evaluation) are ``pm.Data``: they land in the ``constant_data`` group, and models that
    differ only in their values share one compiled graph.

    Parameters
    ----------
    data : Dataset
        Centred observations.
    spec : ModelSpec
        Latent dimension, kernel, hyperparameters, the prior scale of Z and the likelihood form.
    fixed : mapping, optional
        Values of the form's variational parameters to hold fixed (NUTS keeps the sparse form's
        inducing inputs where the MAP put them); otherwise they are free.
    noncentred : bool
        With a structured latent prior: Z a function of V (``Z_whitened``) ~ Normal(0, 1), for NUTS.

    Returns
    -------
    pm.Model
        Free variable ``Z`` with dims (``obs``, ``latent_dim``), learned hyperparameters (an ARD
        ``lengthscale`` has dims ``latent_dim``), the form's parameters (sparse: ``inducing``,
        dims (``inducing_point``, ``latent_dim``)) and the potential ``log_likelihood``.
    """
    with pm.Model(coords=coords_for(data, spec)) as model:
        Y, Y_sq_norm, hyper = _data_and_hyperparameters(data, spec)
        hyper |= _form_parameters(spec, fixed)
        Z = (
            _latents(spec, noncentred)
            if spec.back_constraint is None
            else _back_constrained_latents(data, spec)
        )
        if data.n_missing:
            log_lik = spec.form.missing_log_likelihood(Z, Y, hyper, ~np.isnan(data.Y))
        else:
            log_lik = spec.form.log_likelihood(Z, Y, hyper, Y_sq_norm)
        pm.Potential("log_likelihood", log_lik)
    return model


def build_variational_model(data: Dataset, spec: ModelSpec) -> pm.Model:
    """The Bayesian GPLVM's objective as a ``pm.Model``, for an optimiser (not a sampler).

    Free variables: ``Z_mean`` and ``Z_var`` (obs, latent_dim; the variances log-transformed),
    ``inducing`` and the learned hyperparameters. Its log density without Jacobians is the
    evidence lower bound plus the hyperparameters' log priors: the potential ``log_likelihood``
    (the sparse bound with Z integrated over q) and ``kl`` (minus KL(q(Z) || N(0, prior_scale^2))).
    """
    with pm.Model(coords=coords_for(data, spec)) as model:
        Y, Y_sq_norm, hyper = _data_and_hyperparameters(data, spec)
        hyper |= _form_parameters(spec, None)
        if spec.latent_prior is None:
            mean = pm.Flat("Z_mean", dims=("obs", "latent_dim"))
            variance = pm.HalfFlat("Z_var", dims=("obs", "latent_dim"))
            kl = gaussian_kl(mean, variance, spec.prior_scale)
        else:
            mean, variance, kl = _structured_q(spec)
        if data.n_missing:
            observed = ~np.isnan(data.Y)
            data_term = expected_missing_log_likelihood(spec.form, mean, variance, Y, hyper, observed)
        else:
            data_term = expected_log_likelihood(spec.form, mean, variance, Y, hyper, Y_sq_norm)
        pm.Potential("log_likelihood", data_term)
        pm.Potential("kl", -kl)
    return model


def _structured_q(spec: ModelSpec) -> tuple:
    """q(Z) under a structured latent prior: its free parameters (the GP's VGPDS ``Z_mubar`` and
    ``Z_lambda``), the means and marginal variances as ``Z_mean`` and ``Z_var`` (deterministics
    when they are not q's parameters themselves), and the KL to the prior."""
    dims = ("obs", "latent_dim")
    prior = spec.latent_prior
    q = {
        name: (pm.Flat if kind == "real" else pm.HalfFlat)(name, dims=dims)
        for name, kind in prior.q_parameters.items()
    }
    mean, variance, kl = prior.q_moments(q, _latent_prior_parameter(spec), spec.latent_dim)
    if "Z_mean" not in q:
        mean = pm.Deterministic("Z_mean", mean, dims=dims)
        variance = pm.Deterministic("Z_var", variance, dims=dims)
    return mean, variance, kl
