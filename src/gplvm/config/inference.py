"""Inference schemas: the fields every fit method shares, and MAP, NUTS and the Bayesian GPLVM's."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from omegaconf import MISSING

from gplvm.config.validation import positive_finite, require


class Init(StrEnum):
    """Where an optimiser or sampler starts. ``map`` (NUTS only) means: at the fitted MAP;
    ``sparse`` (MAP with the dense likelihood): at a sparse MAP of the same model; ``auto`` (MAP):
    ``sparse`` for a non-linear kernel's dense likelihood on more rows than twice
    ``model.num_inducing``, else ``pca``."""

    pca = "pca"
    random = "random"
    map = "map"
    sparse = "sparse"
    auto = "auto"


class Sampler(StrEnum):
    """NUTS implementation behind ``pm.sample``."""

    nutpie = "nutpie"
    pymc = "pymc"


BACKENDS = ("numba", "c", "python")


@dataclass
class InferenceConfig:
    """Fields every inference method shares."""

    method: str = MISSING
    init: Init = Init.pca
    backend: str = "numba"  # PyTensor compile backend: numba, c or python (FAST_COMPILE)
    # Optimisers log iteration, objective, gradient and elapsed time this often; 0 is quiet.
    progress_seconds: float = 5.0
    # Fits with draws store each feature's log-likelihood per draw (the log_likelihood group,
    # for PSIS-LOO over features); false saves chains x draws x D numbers in posterior.nc.
    log_likelihood: bool = True

    def __post_init__(self) -> None:
        require(
            self.backend in BACKENDS,
            "inference.backend",
            self.backend,
            f"choose one of {', '.join(BACKENDS)}",
        )
        require(
            math.isfinite(self.progress_seconds) and self.progress_seconds >= 0,
            "inference.progress_seconds",
            self.progress_seconds,
            "it must be >= 0 (0: no progress lines)",
        )


@dataclass
class MapConfig(InferenceConfig):
    """MAP by SciPy's L-BFGS-B on the PyMC model's log density, with PyTensor gradients."""

    method: str = "map"
    init: Init = Init.auto
    backend: str = "python"  # compiles in under a second, runs as fast as numba here (make bench)
    maxiter: int = 10_000
    ftol: float = 0.0  # scipy's 2.2e-9 stops short of the optimum on large objectives
    gtol: float = 1e-8
    # Converged once the objective gains less than tol x |objective| over tol_window iterations
    # (0: run until no step improves). A dense rbf MAP creeps on for thousands of iterations
    # gaining less than that: 1e-7 of digits' objective is 0.03 nats per 100 iterations.
    tol: float = 1e-7
    tol_window: int = 100
    maxcor: int = 30
    # L-BFGS-B keeps 2 x maxcor vectors as long as all parameters (N Q + hyperparameters); above
    # this many MiB, maxcor is lowered to fit (at 10^6 x 2 latents, 30 pairs would take 960 MiB).
    history_mb: float = 256.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.init != Init.map,
            "inference.init",
            self.init.value,
            "MAP starts from auto, pca, random or sparse",
        )
        require(self.maxiter >= 1, "inference.maxiter", self.maxiter, "it must be >= 1")
        require(self.ftol >= 0, "inference.ftol", self.ftol, "it must be >= 0")
        require(self.gtol >= 0, "inference.gtol", self.gtol, "it must be >= 0")
        require(self.tol >= 0, "inference.tol", self.tol, "it must be >= 0 (0: off)")
        require(self.tol_window >= 1, "inference.tol_window", self.tol_window, "it must be >= 1")
        require(self.maxcor >= 1, "inference.maxcor", self.maxcor, "it must be >= 1")
        require(self.history_mb > 0, "inference.history_mb", self.history_mb, "it must be > 0")


@dataclass
class NutsConfig(InferenceConfig):
    """NUTS by ``pm.sample``, started at the MAP (default) plus PyMC's U(-1, 1) jitter per chain."""

    method: str = "nuts"
    init: Init = Init.map
    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    cores: int | None = (
        None  # chains run in parallel: threads (nutpie) or processes (pymc); null: PyMC's default
    )
    target_accept: float = 0.8
    sampler: Sampler = Sampler.nutpie
    progressbar: bool = True  # set false for quieter logs, e.g. on a cluster
    map: MapConfig = field(default_factory=MapConfig)  # settings of the MAP used as start

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.draws >= 1, "inference.draws", self.draws, "it must be >= 1")
        require(self.tune >= 0, "inference.tune", self.tune, "it must be >= 0")
        require(self.chains >= 1, "inference.chains", self.chains, "it must be >= 1")
        require(
            self.cores is None or self.cores >= 1, "inference.cores", self.cores, "it must be >= 1 or null"
        )
        require(
            self.sampler != Sampler.nutpie or self.backend == "numba",
            "inference.backend",
            self.backend,
            "the nutpie sampler compiles with numba; use inference.backend=numba or inference.sampler=pymc",
        )
        require(
            0 < self.target_accept < 1, "inference.target_accept", self.target_accept, "it must lie in (0, 1)"
        )


# The fewest draws from q whose importance ratios leave a Pareto tail to fit (ArviZ's PSIS needs
# 5 in its tail of min(20%, 3 sqrt(S)); at 25 the fit is still undefined).
MIN_Q_DRAWS = 30


def check_q_settings(cfg: VariationalConfig | SVIConfig) -> None:
    """The settings every fit of a free q(Z) shares: where its means start, its variances' start,
    and the draws from it stored as the posterior."""
    require(
        cfg.init in (Init.pca, Init.random),
        "inference.init",
        cfg.init.value,
        "q's means start from pca or random",
    )
    positive_finite("inference.init_variance", cfg.init_variance)
    require(cfg.draws >= 1, "inference.draws", cfg.draws, "it must be >= 1")
    require(cfg.chains >= 1, "inference.chains", cfg.chains, "it must be >= 1")
    require(
        cfg.chains * cfg.draws >= MIN_Q_DRAWS,
        "inference.draws",
        cfg.draws,
        f"chains x draws must be >= {MIN_Q_DRAWS} (here {cfg.chains} x {cfg.draws}): q's Pareto k and"
        " PSIS-LOO fit a tail to the draws' largest importance ratios",
    )


@dataclass
class VariationalConfig(MapConfig):
    """The Bayesian GPLVM: q(Z) = prod_n N(mu_n, diag S_n) and the sparse bound minus KL(q || prior).

    The bound is maximised over mu, S, the inducing inputs and the learned hyperparameters (at
    their MAP under their priors) by the same L-BFGS-B as ``map``; the run then stores draws
    from q as its posterior.
    """

    method: str = "variational"
    init: Init = Init.pca
    # Digits (M = 64) reach tol at 1,435 (Q = 2) and 2,378 (Q = 5) iterations, 0.2 and 0.5 nats
    # below where L-BFGS-B stalls 2,000 and 1,300 iterations later.
    maxiter: int = 5000
    tol: float = 1e-6
    init_variance: float = 0.1  # S_nq start uniform in (0, init_variance] x prior_scale^2
    draws: int = 250  # draws from q per chain
    chains: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_q_settings(self)


@dataclass
class SVIConfig(InferenceConfig):
    """The Bayesian GPLVM by minibatch stochastic variational inference on the uncollapsed bound.

    q(Z) = prod_n N(mu_n, diag S_n) as in ``variational``, and q(u_d) = N(m_d, S) per column with
    S shared by the columns. Each Adam step draws ``batch_size`` rows; the bound is a sum over rows,
    so (N / batch) x the batch's terms estimate it without bias, and the fit's working memory is
    O(batch M^2 + M D) whatever N (the data themselves are held in memory). The step size starts
    at ``learning_rate`` and is multiplied by ``decay`` whenever the bound, averaged over
    ``tol_window`` epochs, gains less than ``tol`` x |bound| on the ``tol_window`` epochs before;
    at ``min_rate_share`` x ``learning_rate`` such a plateau is convergence. ``epochs`` caps the run.
    """

    method: str = "svi"
    init: Init = Init.pca
    backend: str = "c"  # PyTensor's compiled C: a step costs about half of FAST_COMPILE's
    batch_size: int = 256
    epochs: int = 1000
    learning_rate: float = 0.02
    # each row's q(z_n) moves once an epoch, the global parameters N / batch_size times: their
    # step size is learning_rate x this
    row_rate_scale: float = 5.0
    # Gaussian noise: q(u) moves this share of the way to the batch's optimum each step (a
    # natural-gradient step), cut with the step size
    natural_step: float = 0.1
    decay: float = 0.1
    min_rate_share: float = 0.01
    tol: float = 5e-4
    tol_window: int = 10
    init_variance: float = 0.1
    draws: int = 50  # draws from q per chain; each is scored over all N rows
    chains: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_q_settings(self)
        require(self.batch_size >= 1, "inference.batch_size", self.batch_size, "it must be >= 1")
        require(self.epochs >= 1, "inference.epochs", self.epochs, "it must be >= 1")
        positive_finite("inference.learning_rate", self.learning_rate)
        positive_finite("inference.row_rate_scale", self.row_rate_scale)
        require(
            0 < self.natural_step <= 1, "inference.natural_step", self.natural_step, "it must lie in (0, 1]"
        )
        require(0 < self.decay < 1, "inference.decay", self.decay, "it must lie in (0, 1)")
        require(
            0 < self.min_rate_share <= 1,
            "inference.min_rate_share",
            self.min_rate_share,
            "it must lie in (0, 1]",
        )
        require(self.tol >= 0, "inference.tol", self.tol, "it must be >= 0 (0: run all epochs)")
        require(self.tol_window >= 1, "inference.tol_window", self.tol_window, "it must be >= 1")


# Methods whose q(Z) is free and integrated out of the sparse bound through the psi statistics
Q_METHODS = (VariationalConfig, SVIConfig)
