"""What every fit method shares: the :class:`Fit` result, the starting point and the compile mode."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pymc as pm
from xarray import DataTree

from gplvm.config import Init
from gplvm.data.dataset import Dataset
from gplvm.data.missing import filled
from gplvm.inference.numba_support import register_numba_ops
from gplvm.inference.python_mode import python_mode
from gplvm.model.analytic import top_singular
from gplvm.model.latent_priors.back_constraint import WEIGHTS, WHITENED
from gplvm.model.pymc_model import build_model
from gplvm.model.spec import ModelSpec


@dataclass
class Fit:
    """What a fit produced.

    Attributes
    ----------
    method : str
        The fit method's name, as in the config (``inference.method``).
    idata : DataTree
        ``posterior`` (one draw for a point estimate), ``sample_stats`` for samplers,
        ``constant_data`` and, for optimisers, ``optimizer_result``.
    compile_seconds : float
        Time before the first optimiser iteration or the first draw: graph rewriting and compiling.
    fit_seconds : float
        Time spent optimising or sampling.
    has_draws : bool
        Whether ``posterior`` holds draws to summarise (and diagnose), rather than one point.
    info : dict
        Method-specific figures for ``metrics.json``, such as iterations and convergence.
    start : Fit or None
        The point fit (the MAP) that a sampler started from, kept for reporting.
    description : str
        What this fit is as a point, for the alignment group's attrs (``MAP``, ``q's means``).
    """

    method: str
    idata: DataTree
    compile_seconds: float
    fit_seconds: float
    has_draws: bool = False
    info: dict = field(default_factory=dict)
    start: Fit | None = None
    description: str = "MAP"  # what the fit is, as a point that draws are aligned to
    # each feature's log-likelihood per draw (chain, draw, feature), when the method scores its
    # draws itself (count likelihoods: each column's bound); else the spec's likelihood does
    columns: np.ndarray | None = None

    def point_estimate(self, name: str = "Z") -> np.ndarray:
        """A variable at the point fit (or at the point a sampler started from); Z has shape (N, Q)."""
        fit = self.start if self.has_draws else self
        if fit is None:
            raise ValueError(f"this {self.method} fit did not start from a point estimate")
        return fit.idata.posterior[name].values[0, 0]


class FitMethod(ABC):
    """One way of fitting the model (``inference=<name>``)."""

    name: ClassVar[str]

    def build_model(self, data: Dataset, spec: ModelSpec) -> pm.Model:
        """The model this method fits: by default the GPLVM of :func:`gplvm.model.pymc_model.build_model`."""
        return build_model(data, spec)

    def check_data(self, data: Dataset, spec: ModelSpec) -> None:
        """Refuse, with a one-line :class:`~gplvm.errors.ConfigError`, data this method cannot fit
        (by default it fits any)."""
        return None

    @abstractmethod
    def fit(self, model: pm.Model, data: Dataset, spec: ModelSpec, seed: int) -> Fit:
        """Fit ``model`` (from :meth:`build_model`) and return the result."""


def initial_latents(data: Dataset, latent_dim: int, init: Init, prior_scale: float, seed: int) -> np.ndarray:
    """Starting Z: PCA scores scaled to unit variance per dim, or a seeded draw from the prior.

    Neither start is Z = 0, which is a saddle point of the posterior.
    """
    rng = np.random.default_rng(seed)
    if init == Init.pca:
        # Missing cells at their column's mean (0): a start, not an estimate.
        U, sing = top_singular(filled(data.Y) if data.n_missing else data.Y, latent_dim)
        Z = U * np.sqrt(data.n_obs)
        # Dims beyond rank(Y) get small noise so that the start is not a saddle there either.
        empty = sing == 0
        Z[:, empty] = 1e-3 * rng.standard_normal((data.n_obs, int(empty.sum())))
        return Z
    if init == Init.random:
        return prior_scale * rng.standard_normal((data.n_obs, latent_dim))
    raise ValueError(f"init {init.value!r} needs a fitted MAP; use pca or random here")


def starting_point(data: Dataset, spec: ModelSpec, init: Init, seed: int) -> dict[str, np.ndarray]:
    """Starting latents, learned hyperparameters and the form's parameters (sparse: inducing inputs).

    Fails early, with the values, if the likelihood cannot be evaluated there.
    """
    Z0 = initial_latents(data, spec.latent_dim, init, spec.prior_scale, seed)
    latents = {"Z": Z0}
    if spec.latent_prior is not None:
        latents["Z"] = Z0 = spec.latent_prior.starting_latents(Z0)
    if spec.back_constraint is not None:  # the weights whose g(Y) is nearest the start
        A = spec.back_constraint.start_whitened(Z0)
        Z0, latents = spec.back_constraint.whitened_latents(A), {WHITENED: A}
    parameters = spec.form.initial_parameters(Z0, seed)
    spec.form.check_factorisable(Z0, {**spec.configured, **parameters}, f"at the {init.value} start")
    return {**latents, **spec.starting_hyperparameters(), **parameters}


def with_back_constrained_latents(fit: Fit, data: Dataset, spec: ModelSpec) -> Fit:
    """A point fit of a back-constrained model with Z = g(Y) and the weights in its posterior (the
    optimiser records only the free whitened coordinates)."""
    posterior = fit.idata.posterior.to_dataset()
    bc = spec.back_constraint
    if bc is None or "Z" in posterior:
        return fit
    A = posterior[WHITENED].values[0, 0]
    fit.idata["posterior"] = posterior.assign(
        Z=(("chain", "draw", "obs", "latent_dim"), bc.whitened_latents(A)[None, None]),
        **{WEIGHTS: (("chain", "draw", "centre", "latent_dim"), bc.weights(A)[None, None])},
    ).assign_coords(
        obs=np.arange(data.n_obs),
        latent_dim=np.arange(spec.latent_dim),
        centre=np.arange(len(bc.centres)),
    )
    return fit


def compile_mode(backend: str):
    """The PyTensor mode of a backend name: numba, c or python (FAST_COMPILE)."""
    from pytensor.compile.mode import get_mode

    if backend == "numba":
        register_numba_ops()
    if backend == "python":
        return python_mode()
    return get_mode({"c": "CVM"}.get(backend, backend.upper()))


def compile_options(backend: str) -> dict:
    """Keyword arguments that select a PyTensor backend in ``pm.sample``.

    ``python`` is PyTensor's FAST_COMPILE mode: NumPy implementations of each op and few graph
    rewrites, so it compiles in a fraction of a second. The linear-kernel objective is a handful
    of BLAS calls, so on small and medium data it is as fast to run as compiled code.
    """
    if backend == "numba":
        register_numba_ops()
    return {"compile_kwargs": {"mode": python_mode()}} if backend == "python" else {"backend": backend}
