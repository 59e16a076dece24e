"""The GP latent prior's Hilbert-space approximation (``latent_prior.approximation=hsgp``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.stats import multivariate_normal

from gplvm.config import GPLatentPriorConfig, load_config
from gplvm.errors import ConfigError
from gplvm.model.latent_priors import GPLatentPrior, make_latent_prior
from gplvm.model.latent_priors.hsgp import HSGPLatentPrior

TIMES = np.sort(np.random.default_rng(0).uniform(0, 10, 120))
GROUPS = (np.arange(120) % 3).astype(str)


def priors(kernel="rbf", groups=None, **settings) -> tuple[GPLatentPrior, HSGPLatentPrior]:
    covariates = {"time": TIMES.astype(str), "run": GROUPS}
    group = None if groups is None else "run"
    exact = GPLatentPriorConfig(inputs=["time"], group=group, kernel=kernel, **settings)
    hsgp = GPLatentPriorConfig(inputs=["time"], group=group, kernel=kernel, approximation="hsgp", **settings)
    return (
        make_latent_prior(exact, covariates, 1.3, 2),
        make_latent_prior(hsgp, covariates, 1.3, 2),
    )


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
@pytest.mark.parametrize("groups", [None, "run"])
def test_the_woodbury_density_is_the_dense_density_of_the_approximate_covariance(kernel, groups):
    exact, hsgp = priors(kernel, groups)
    assert isinstance(hsgp, HSGPLatentPrior) and hsgp.basis.shape == (120, 64 * (1 if groups is None else 3))
    Z = np.random.default_rng(1).standard_normal((120, 2))
    K = hsgp.covariance_np(0.4)
    expected = sum(multivariate_normal(np.zeros(120), K).logpdf(Z[:, q]) for q in range(2))
    assert hsgp.log_density_np(Z, 0.4) == pytest.approx(expected, rel=1e-10)
    Z_in, ell = pt.matrix("Z"), pt.scalar("ell")
    assert float(pytensor.function([Z_in, ell], hsgp.log_density(Z_in, ell))(Z, 0.4)) == pytest.approx(
        expected, rel=1e-10
    )
    # and the approximate covariance is the exact one, inside its resolvable length scales (the
    # Matern's slower spectral decay leaves 0.25% of the prior variance at 64 basis functions)
    assert np.abs(K - exact.covariance_np(0.4)).max() < 0.005 * 1.3**2


@pytest.mark.parametrize("ell", [0.3, 1.0])  # at 1.0 the rbf's high frequencies underflow
def test_the_length_scale_gradient_matches_central_differences(ell):
    _, hsgp = priors()
    Z = np.random.default_rng(2).standard_normal((120, 2))
    Z_in, l_in = pt.matrix("Z"), pt.scalar("ell")
    grad = float(pytensor.function([Z_in, l_in], pt.grad(hsgp.log_density(Z_in, l_in), l_in))(Z, ell))
    h = 1e-6
    numeric = (hsgp.log_density_np(Z, ell + h) - hsgp.log_density_np(Z, ell - h)) / (2 * h)
    assert np.isfinite(grad) and grad == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("groups", [None, "run"])
def test_the_conditional_is_the_dense_conditional_of_the_approximation(groups):
    _, hsgp = priors(groups=groups)
    Z = np.random.default_rng(3).standard_normal((120, 2))
    new = np.array([[2.5], [7.1], [9.9]])
    new_groups = None if groups is None else np.array(["0", "2", "unseen"])
    mean, variance = hsgp.conditional(Z, 0.4, new, new_groups)
    # by hand, with dense matrices of the approximate model
    t_all = (np.vstack([TIMES[:, None], new]) - hsgp.input_offset) / hsgp.input_scale
    sines = hsgp.sines(t_all) * hsgp._scales(0.4)[None, :64]
    same = np.ones((123, 123), dtype=bool)
    if groups is not None:
        labels = np.concatenate([GROUPS, new_groups])
        same = labels[:, None] == labels[None, :]
    K_all = (sines @ sines.T) * same + hsgp._diagonal * np.eye(123)
    K, cross, own = K_all[:120, :120], K_all[120:, :120], K_all[120:, 120:]
    np.testing.assert_allclose(mean, cross @ np.linalg.solve(K, Z), atol=1e-8)
    np.testing.assert_allclose(variance, np.diag(own - cross @ np.linalg.solve(K, cross.T)), atol=1e-8)


def test_the_approximation_fits_past_the_exact_priors_row_limit(tmp_path):
    """Measured (2026-11-30): Procrustes error 0.0148 with hsgp, 0.0149 exact (length scale 0.760
    against 0.760); at 20,000 rows of the same curve 0.119 with hsgp, 0.65 with the iid prior."""
    from gplvm.run.pipeline import fit_experiment
    from tests.model.test_latent_prior import procrustes_error, trajectory_files

    truth = trajectory_files(tmp_path)
    common = ["dataset=file", f"dataset.path={tmp_path / 'timed.csv'}", "model=rbf", "plot=false"]
    gp = ["latent_prior=gp", "latent_prior.inputs=[time]", "latent_prior.max_rows=100"]
    with pytest.raises(ConfigError, match=r"choose latent_prior\.approximation=hsgp"):
        fit_experiment(load_config(*common, *gp))
    exp = fit_experiment(load_config(*common, *gp, "latent_prior.approximation=hsgp"))
    assert procrustes_error(exp.fit.point_estimate(), truth) < 0.05
    record = exp.metrics["latent_prior"]
    assert record["approximation"] == "hsgp" and record["num_basis"] == 64
    assert record["lengthscale"] == pytest.approx(0.76, rel=0.05)


def test_nuts_samples_the_approximation_centred(tmp_path):
    from gplvm.run.pipeline import fit_experiment

    rng = np.random.default_rng(5)
    t = np.sort(rng.uniform(0, 5, 50))
    frame = pd.DataFrame(np.column_stack([np.sin(t), np.cos(t)]) @ rng.standard_normal((2, 6)))
    frame = frame.add_prefix("y").assign(time=t)
    frame.to_csv(tmp_path / "d.csv", index=False)
    exp = fit_experiment(
        load_config(
            "dataset=file",
            f"dataset.path={tmp_path / 'd.csv'}",
            "plot=false",
            "latent_prior=gp",
            "latent_prior.inputs=[time]",
            "latent_prior.approximation=hsgp",
            "inference=nuts",
            "inference.draws=30",
            "inference.tune=30",
        )
    )
    posterior = exp.idata.posterior
    assert "Z_whitened" not in posterior and posterior["latent_lengthscale"].shape == (2, 30)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["latent_prior.inputs=[time,dose]"], "latent_prior.approximation=hsgp takes one input column"),
        (["inference=variational", "model=rbf"], "the Bayesian GPLVM's q under the GP prior needs the exact"),
        (["latent_prior.white=0"], "latent_prior.approximation=hsgp needs a white share > 0"),
        (["latent_prior.approximation=fft"], "latent_prior.approximation='fft' is invalid: choose null"),
    ],
)
def test_bad_settings_give_one_line(overrides, message):
    from gplvm.model.checks import check_run_config

    with pytest.raises(ConfigError) as info:
        check_run_config(
            load_config(
                "latent_prior=gp",
                "latent_prior.inputs=[time]",
                "latent_prior.approximation=hsgp",
                *overrides,
            )
        )
    assert message in str(info.value) and "\n" not in str(info.value)
