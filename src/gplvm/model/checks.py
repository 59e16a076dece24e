"""Checks of a model config against the registered kernels and likelihood forms.

They need the classes, so they live here rather than with the schemas; each raises a
:class:`~gplvm.errors.ConfigError` with one line that names the bad value and what would be valid.
:func:`check_run_config` runs them all; the command line runs it before it loads PyMC.
"""

from __future__ import annotations

from gplvm.config import (
    HYPERPARAMETER_NAMES,
    Q_METHODS,
    BackConstrainedConfig,
    Config,
    CovariatePriorConfig,
    GPLatentPriorConfig,
    IidLatentPriorConfig,
    InformativeLatentPriorConfig,
    MapConfig,
    ModelConfig,
    Noise,
    SVIConfig,
)
from gplvm.config.validation import require
from gplvm.model.expectations import has_psi_statistics
from gplvm.model.forms import FORMS
from gplvm.model.forms.auto import AUTO
from gplvm.model.kernels import KERNELS


def check_model(cfg: ModelConfig) -> None:
    """The kernel and form exist and fit together, and learned hyperparameters are the kernel's."""
    require(cfg.kernel in KERNELS, "model.kernel", cfg.kernel, f"choose one of {', '.join(sorted(KERNELS))}")
    require(
        cfg.likelihood in FORMS or cfg.likelihood == AUTO,
        "model.likelihood",
        cfg.likelihood,
        f"choose one of {', '.join(sorted([*FORMS, AUTO]))}",
    )
    kernel = KERNELS[cfg.kernel]
    allowed = ("beta", *kernel.hyperparameters)
    for name in HYPERPARAMETER_NAMES:
        if not getattr(cfg.learn, name):
            continue
        require(
            name in allowed,
            f"model.learn.{name}",
            True,
            f"the {cfg.kernel} kernel has no {name}; it can learn {', '.join(allowed)}",
        )
        require(
            getattr(cfg, name) > 0,
            f"model.{name}",
            getattr(cfg, name),
            "a learned hyperparameter starts at a value > 0",
        )
        getattr(cfg.priors, name).check(f"model.priors.{name}")
    ard_kernels = sorted(name for name, k in KERNELS.items() if k.supports_ard)
    require(
        not cfg.ard or kernel.supports_ard,
        "model.ard",
        cfg.ard,
        f"ARD needs a kernel with length scales ({', '.join(ard_kernels)})",
    )
    require(
        not cfg.ard or cfg.learn.lengthscale,
        "model.learn.lengthscale",
        False,
        "model.ard=true learns one length scale per latent dim; drop model.learn.lengthscale=false"
        " or set model.ard=false",
    )
    if cfg.likelihood == AUTO:
        return
    form = FORMS[cfg.likelihood]
    require(
        form.supports(kernel()),
        "model.likelihood",
        cfg.likelihood,
        f"the {form.name} form does not support the {cfg.kernel} kernel; use model.likelihood=dense"
        f" (or model={cfg.kernel})",
    )


def check_variational(cfg: ModelConfig, method: str = "variational") -> None:
    """inference=variational (and svi) needs the kernel's expectations under q(Z) in closed form."""
    able = sorted(name for name, k in KERNELS.items() if has_psi_statistics(k))
    require(
        has_psi_statistics(KERNELS[cfg.kernel]),
        "model.kernel",
        cfg.kernel,
        f"inference={method} needs a kernel with closed-form psi statistics ({', '.join(able)});"
        " use inference=map with model.likelihood=sparse for this kernel",
    )


def check_latent_prior(cfg: Config) -> None:
    """A covariate prior needs its inputs; the informative one a latent dim per input, and a spread
    that the MAP can learn (it cannot: the joint mode has every tied latent on its covariate and
    the spread at 0)."""
    prior = cfg.latent_prior
    require(
        not (isinstance(prior, BackConstrainedConfig) and isinstance(cfg.inference, Q_METHODS)),
        "latent_prior",
        "back_constrained",
        "back-constraints replace Z by g(Y) and fit by inference=map or inference=nuts,"
        " not variational or svi (whose q(Z) is free)",
    )
    if isinstance(prior, CovariatePriorConfig):
        prior.check_inputs()
    if isinstance(prior, GPLatentPriorConfig) and prior.approximation is not None:
        require(
            len(prior.inputs) == 1,
            "latent_prior.inputs",
            list(prior.inputs),
            "latent_prior.approximation=hsgp takes one input column (time, say)",
        )
        require(
            not isinstance(cfg.inference, Q_METHODS),
            "latent_prior.approximation",
            prior.approximation,
            "the Bayesian GPLVM's q under the GP prior needs the exact prior; use inference=map or nuts",
        )
    if isinstance(prior, InformativeLatentPriorConfig):
        require(
            len(prior.inputs) <= cfg.model.latent_dim,
            "latent_prior.inputs",
            list(prior.inputs),
            f"each input centres one latent dim: name at most model.latent_dim={cfg.model.latent_dim}",
        )
        require(
            not (prior.learn_spread and type(cfg.inference) is MapConfig),
            "latent_prior.learn_spread",
            True,
            "the MAP of the spread is 0 (every tied latent on its covariate); fix it"
            " (latent_prior.spread=...) or learn it by inference=nuts or inference=variational",
        )


def check_count_run(cfg: Config) -> None:
    """Count likelihoods are fitted by inference=svi, on one view, scored on the fitted columns."""
    noise = cfg.model.noise.value
    require(
        isinstance(cfg.inference, SVIConfig),
        "model.noise",
        noise,
        f"count likelihoods are fitted by inference=svi (not {cfg.inference.method}); use"
        " inference=svi, or model.noise=gaussian",
    )
    require(not cfg.dataset.has_views, "model.noise", noise, "several views take model.noise=gaussian")
    require(
        cfg.heldout.fraction == 0,
        "heldout.fraction",
        cfg.heldout.fraction,
        f"held-out columns are scored under the Gaussian likelihood; set 0 with model.noise={noise}",
    )
    require(
        cfg.kfold.folds == 0,
        "kfold.folds",
        cfg.kfold.folds,
        f"K-fold refits are scored under the Gaussian likelihood; set 0 with model.noise={noise}"
        " (the PSIS-LOO over features in metrics.json covers counts)",
    )


def check_run_config(cfg: Config) -> Config:
    """All the checks of a validated config that need the model classes; returns ``cfg``."""
    check_model(cfg.model)
    check_latent_prior(cfg)
    if isinstance(cfg.inference, Q_METHODS):
        check_variational(cfg.model, cfg.inference.method)
    if cfg.model.noise != Noise.gaussian:
        check_count_run(cfg)
    if isinstance(cfg.inference, SVIConfig):
        require(
            isinstance(cfg.latent_prior, IidLatentPriorConfig),
            "latent_prior",
            cfg.latent_prior.name,
            "inference=svi fits q(z_n) row by row under the iid prior; use latent_prior=iid, or"
            " inference=variational for a structured prior",
        )
    return cfg
