"""Configs compose from conf/, and the schemas reject bad keys, types and ranges."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from gplvm.config import (
    Config,
    CurveDatasetConfig,
    DigitsDatasetConfig,
    FileDatasetConfig,
    Init,
    MapConfig,
    ModelConfig,
    NutsConfig,
    PriorDist,
    Sampler,
    SyntheticDatasetConfig,
    check_against_data,
    compose,
    load_config,
    to_run_config,
)
from gplvm.errors import ConfigError
from gplvm.model.checks import check_run_config
from gplvm.model.kernels import KERNELS


def compose_cfg(*overrides: str):
    return compose(overrides)


def test_default_config_composes_to_digits_map():
    cfg = to_run_config(compose_cfg())
    assert isinstance(cfg, Config)
    assert isinstance(cfg.dataset, DigitsDatasetConfig)
    assert isinstance(cfg.inference, MapConfig)
    assert cfg.inference.init == Init.auto
    assert cfg.model.likelihood == "woodbury"


@pytest.mark.parametrize("dataset", ["synthetic", "curve", "digits", "iris"])
@pytest.mark.parametrize("inference", ["map", "nuts"])
def test_every_group_option_composes(dataset, inference):
    cfg = to_run_config(compose_cfg(f"dataset={dataset}", f"inference={inference}"))
    assert cfg.dataset.name == dataset
    assert cfg.inference.method == inference


def test_issue_example_overrides_compose():
    cfg = to_run_config(
        compose_cfg("dataset=digits", "model.latent_dim=3", "model.beta=20", "inference=nuts")
    )
    assert (cfg.model.latent_dim, cfg.model.beta) == (3, 20.0)
    assert isinstance(cfg.inference, NutsConfig)
    assert cfg.inference.sampler == Sampler.nutpie
    assert cfg.inference.init == Init.map
    cfg = to_run_config(compose_cfg("dataset=file", "dataset.path=my.csv", "dataset.label_column=species"))
    assert isinstance(cfg.dataset, FileDatasetConfig)
    assert cfg.dataset.label_column == "species"


@pytest.mark.parametrize(
    "override",
    [
        "model.foo=1",
        "dataset.n_obs=5",
        "inference.draws=10",
        "bogus=1",
    ],  # digits has no n_obs; map has no draws
)
def test_unknown_key_fails_at_composition(override):
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg(override)
    assert isinstance(info.value.__cause__, ConfigAttributeError | ConfigKeyError)
    assert override.split("=")[0].split(".")[-1] in str(info.value.__cause__)


@pytest.mark.parametrize(
    "override",
    ["model.beta=abc", "model.latent_dim=2.5", "inference.init=zeros"],
)
def test_wrong_type_fails_at_composition(override):
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg(override)
    assert isinstance(info.value.__cause__, ValidationError)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["model.beta=0"], "model.beta"),
        (["model.beta=-1"], "model.beta"),
        (["model.beta=inf"], "model.beta"),
        (["model.latent_dim=0"], "model.latent_dim"),
        (["model.prior_scale=0"], "model.prior_scale"),
        (["inference.init=map"], "inference.init"),
        (["inference.maxiter=0"], "inference.maxiter"),
        (["inference.backend=jax"], "inference.backend"),
        (["inference=nuts", "inference.draws=0"], "inference.draws"),
        (["inference=svi", "inference.draws=5"], "inference.draws"),
        (["inference=variational", "inference.chains=1", "inference.draws=20"], "inference.draws"),
        (["inference=nuts", "inference.tune=-1"], "inference.tune"),
        (["inference=nuts", "inference.chains=0"], "inference.chains"),
        (["inference=nuts", "inference.cores=0"], "inference.cores"),
        (["inference=nuts", "inference.target_accept=1.5"], "inference.target_accept"),
        (["inference=nuts", "inference.backend=c"], "inference.backend"),
        (["dataset=synthetic", "dataset.n_obs=1"], "dataset.n_obs"),
        (["dataset=synthetic", "dataset.beta=0"], "dataset.beta"),
        (["dataset.max_obs=1"], "dataset.max_obs"),
        (["heldout.fraction=1"], "heldout.fraction"),
        (["model=rbf", "model.lengthscale=-1"], "model.lengthscale"),
        (["model=rbf", "model.variance=0"], "model.variance"),
        (["model=rbf", "model.bias=-0.1"], "model.bias"),
        (["model=rbf", "model.learn.bias=true"], "model.bias"),  # a learned bias cannot start at 0
        (["model=rbf", "model.jitter=-1e-6"], "model.jitter"),
        (["model=rbf_ard", "model.priors.lengthscale.sigma=0"], "model.priors.lengthscale.sigma"),
        (
            ["model=rbf", "model.priors.bias.mu=1", "model.learn.bias=true", "model.bias=1"],
            "model.priors.bias.mu",
        ),
        (["model=rbf", "model.likelihood=woodbury"], "model.likelihood"),
        (["model.kernel=rbf"], "model.likelihood"),  # the linear preset's woodbury form
        (["model.learn.lengthscale=true"], "model.learn.lengthscale"),
        (["model.ard=true"], "model.ard"),
        (["dataset=curve", "dataset.arc_degrees=400"], "dataset.arc_degrees"),
        (["dataset=curve", "dataset.noise=-1"], "dataset.noise"),
        (["heldout.fraction=-0.1"], "heldout.fraction"),
        (["model.likelihood=cholesky"], "model.likelihood"),
    ],
)
def test_out_of_range_values_give_one_line_errors(overrides, key):
    with pytest.raises(ConfigError) as info:
        check_run_config(to_run_config(compose_cfg(*overrides)))
    message = str(info.value)
    assert message.startswith(f"{key}=") and "\n" not in message


def learned(model: ModelConfig) -> list[str]:
    return [name for name in ("beta", "variance", "lengthscale", "bias") if getattr(model.learn, name)]


def test_kernel_presets_compose_with_priors_and_fixed_values():
    rbf = to_run_config(compose_cfg("model=rbf")).model
    assert (rbf.kernel, rbf.likelihood, rbf.ard) == ("rbf", "auto", False)
    # The isotropic length scale is fixed: learning it with Z leaves a flat valley (the prior sets the scale).
    assert learned(rbf) == ["beta", "variance"] and rbf.lengthscale == 0.5
    assert rbf.priors.bias.dist == PriorDist.halfnormal
    ard = to_run_config(
        compose_cfg(
            "model=rbf_ard",
            "model.learn.beta=false",
            "model.beta=50",
            "model.priors.lengthscale.dist=halfnormal",
            "model.priors.lengthscale.sigma=2",
        )
    ).model
    assert ard.ard and learned(ard) == ["variance", "lengthscale"] and ard.beta == 50
    assert learned(to_run_config(compose_cfg("model=matern52")).model) == ["beta", "variance"]
    assert (ard.priors.lengthscale.dist, ard.priors.lengthscale.sigma) == (PriorDist.halfnormal, 2.0)
    linear = to_run_config(compose_cfg("model.learn.beta=true")).model
    assert linear.kernel == "linear" and learned(linear) == ["beta"]


@pytest.mark.parametrize("override", ["model.priors.beta.dist=gamma", "model.learn.noise=true"])
def test_unknown_prior_or_hyperparameter_fails_at_composition(override):
    with pytest.raises(ConfigCompositionException):
        compose_cfg(override)


def test_missing_file_path_is_named():
    with pytest.raises(ConfigError, match=r"^dataset.path is required"):
        to_run_config(compose_cfg("dataset=file"))


def test_latent_dim_must_be_below_number_of_observations():
    cfg = to_run_config(compose_cfg("model.latent_dim=6"))
    check_against_data(cfg, n_obs=7)
    with pytest.raises(ConfigError, match=r"^model.latent_dim=6 .* < the number of observations \(6\)$"):
        check_against_data(cfg, n_obs=6)


def test_dataclass_defaults_match_yaml_defaults():
    cfg = to_run_config(compose_cfg("dataset=synthetic", "inference=nuts"))
    assert cfg.dataset == SyntheticDatasetConfig()
    assert cfg.inference == NutsConfig()
    assert cfg.model == ModelConfig()  # model=linear
    assert to_run_config(compose_cfg("dataset=curve")).dataset == CurveDatasetConfig()


def _overlays(group: str) -> list[str]:
    from importlib.resources import files

    return sorted(
        p.name.removesuffix(".yaml")
        for p in (files("gplvm.conf") / group).iterdir()
        if p.name.endswith(".yaml")
    )


@pytest.mark.parametrize("name", _overlays("experiment"))
def test_every_experiment_overlay_composes_and_validates(name):
    cfg = compose_cfg(f"+experiment={name}")
    assert isinstance(to_run_config(cfg), Config)


def test_optuna_search_overlay_composes_with_its_sweeper():
    cfg = compose(["+search=optuna"], return_hydra_config=True)
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert set(cfg.hydra.sweeper.params) == {"model.beta", "model.latent_dim"}
    assert cfg.heldout.fraction == 0.2


def test_unknown_kernel_is_a_one_line_error():
    with pytest.raises(
        ConfigError,
        match=rf"^model.kernel='periodic' is invalid: choose one of {', '.join(sorted(KERNELS))}$",
    ):
        check_run_config(to_run_config(compose_cfg("model.kernel=periodic", "model.likelihood=dense")))
    matern = to_run_config(compose_cfg("model=matern52", "model.ard=true")).model
    assert (matern.kernel, matern.ard, matern.likelihood) == ("matern52", True, "auto")


@pytest.mark.parametrize("preset", ["rbf", "matern52"])
def test_ard_learns_one_length_scale_per_dim_or_is_refused(preset):
    """ARD with the length scales fixed at one common value would be the isotropic kernel."""
    model = to_run_config(compose_cfg(f"model={preset}", "model.ard=true")).model
    assert model.ard and "lengthscale" in learned(model)
    fixed = to_run_config(compose_cfg(f"model={preset}", "model.ard=true", "model.learn.lengthscale=false"))
    with pytest.raises(ConfigError, match=r"model.learn.lengthscale=False is invalid: model.ard=true learns"):
        check_run_config(fixed)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.latnet_dim=2"], "model.latnet_dim is not a config key; did you mean model.latent_dim?"),
        (["+model.latnet_dim=2"], "model.latnet_dim is not a config key; did you mean model.latent_dim?"),
        (["datset=iris"], "datset is not a config key; did you mean dataset?"),
        (["model.priors.beta.sigmaa=2"], "did you mean model.priors.beta.sigma?"),
        (["model.zzz=1"], "model.zzz is not a config key; the keys under model are latent_dim, kernel"),
        (["model=rbff"], "model=rbff is not an option; choose one of linear, matern52, rbf, rbf_ard"),
        (["model.beta=abc"], "model.beta=abc is invalid: Value 'abc'"),
        (["model.latent_dim=1,2,bad"], None),  # a sweep is checked at its first value
        (["model.latnet_dim=1,2"], "model.latnet_dim is not a config key"),
        (["+search=optuna", "model.beta=interval(0.1,10)"], None),
    ],
)
def test_overrides_are_checked_with_the_closest_valid_key(overrides, message):
    from gplvm.config.hydra import check_overrides

    if message is None:
        check_overrides(overrides)
        return
    with pytest.raises(ConfigError) as info:
        check_overrides(overrides)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_keys_added_with_plus_are_refused_when_loading():
    with pytest.raises(
        ConfigError, match=r"model\.latnet_dim is not a config key; did you mean model\.latent_dim"
    ):
        load_config("+model.latnet_dim=2")
