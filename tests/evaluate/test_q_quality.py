"""A variational run's q against the posterior: log q, the importance ratios' Pareto k, and LOO
corrected for q."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal, norm

from gplvm.config import load_config
from gplvm.evaluate.q_quality import importance_pareto_k, target_spec
from gplvm.model.latent_priors import QMoments


def test_log_q_is_scipys_normal_density_summed_over_entries():
    rng = np.random.default_rng(0)
    mean, variance = rng.standard_normal((6, 2)), rng.uniform(0.1, 1.0, (6, 2))
    Z = rng.standard_normal((3, 4, 6, 2))
    expected = norm(mean, np.sqrt(variance)).logpdf(Z).sum(axis=(-2, -1))
    np.testing.assert_allclose(QMoments(mean, variance).log_density(Z), expected, rtol=1e-12)
    # and a q whose latent dims are full N x N Gaussians (the GP prior's)
    A = rng.standard_normal((2, 6, 6))
    covariances = [a @ a.T + np.eye(6) for a in A]
    full = QMoments(mean, variance, covariances).log_density(Z)
    expected = sum(multivariate_normal(mean[:, q], covariances[q]).logpdf(Z[..., q]) for q in range(2))
    np.testing.assert_allclose(full, expected, rtol=1e-12)


def test_pareto_k_is_small_for_an_exact_q_and_large_for_a_narrow_one():
    """A Gaussian target p = N(0, I_20): q = p gives constant ratios; q with half the sd misses
    p's tails."""
    rng = np.random.default_rng(1)
    p = multivariate_normal(np.zeros(20), np.eye(20))
    exact = rng.standard_normal((500, 20))
    k, threshold = importance_pareto_k(p.logpdf(exact), p.logpdf(exact))
    assert threshold == pytest.approx(1 - 1 / np.log10(500)) and k == -np.inf  # every ratio equal
    nearly = exact * 1.01  # q's sd 1% off: ratios vary a little, a light tail
    q = multivariate_normal(np.zeros(20), 1.01**2 * np.eye(20))
    assert importance_pareto_k(p.logpdf(nearly), q.logpdf(nearly))[0] < 0.3
    narrow = 0.5 * rng.standard_normal((500, 20))
    q = multivariate_normal(np.zeros(20), 0.25 * np.eye(20))
    k, _ = importance_pareto_k(p.logpdf(narrow), q.logpdf(narrow))
    assert k > 1.0
    wide = 1.2 * rng.standard_normal((500, 20))  # a q wider than p is safe for importance sampling
    q = multivariate_normal(np.zeros(20), 1.44 * np.eye(20))
    assert importance_pareto_k(p.logpdf(wide), q.logpdf(wide))[0] < threshold


def linear_file(tmp_path, seed: int, n_obs: int = 12, n_features: int = 60, noise: float = 1.0):
    rng = np.random.default_rng(seed)
    Z, W = rng.standard_normal((n_obs, 1)), rng.standard_normal((n_features, 1))
    Y = Z @ W.T + noise * rng.standard_normal((n_obs, n_features))
    pd.DataFrame(Y).add_prefix("y").to_csv(tmp_path / f"linear{seed}.csv", index=False)
    return [
        "dataset=file",
        f"dataset.path={tmp_path / f'linear{seed}.csv'}",
        "model=linear",
        "model.latent_dim=1",
        f"model.beta={1 / noise**2}",
        "plot=false",
        f"seed={seed}",
    ]


def test_a_variational_run_records_log_p_log_q_and_the_corrected_loo(tmp_path):
    """log_p is the exact model's log posterior of each draw (N <= 500), log_q q's density, and
    the recorded q_pareto_k and elpd_loo follow from them."""
    from gplvm.evaluate import elpd
    from gplvm.run.pipeline import fit_experiment

    exp = fit_experiment(load_config(*linear_file(tmp_path, 0), "inference=variational"))
    q = exp.idata["variational"]
    Z = exp.idata.posterior["Z"].values
    expected_q = norm(q["Z_mean"].values, np.sqrt(q["Z_var"].values)).logpdf(Z).sum(axis=(-2, -1))
    np.testing.assert_allclose(q["log_q"].values, expected_q, rtol=1e-10)
    # log p: the dense linear GPLVM's likelihood plus the N(0, 1) prior, draw by draw
    Y, beta = exp.data.Y, 1.0
    first = Z[0, 0]
    K = first @ first.T + np.eye(len(first)) / beta
    log_lik = sum(multivariate_normal(np.zeros(len(K)), K).logpdf(Y[:, d]) for d in range(Y.shape[1]))
    log_prior = norm(0, 1).logpdf(first).sum()
    assert q["log_p"].values[0, 0] == pytest.approx(log_lik + log_prior, rel=1e-9)
    assert q["log_p"].attrs["likelihood"] == "exact"
    m = exp.metrics
    k, threshold = importance_pareto_k(q["log_p"].values, q["log_q"].values)
    assert (m["q_pareto_k"], m["q_pareto_k_threshold"], m["q_log_p"]) == (k, threshold, "exact")
    assert m["loo_method"].startswith("PSIS-LOO corrected for q")
    from arviz_stats import loo_approximate_posterior

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corrected = loo_approximate_posterior(exp.idata, q["log_p"], q["log_q"], var_name="Y")
    assert m["elpd_loo"] == pytest.approx(float(corrected.elpd), rel=1e-12)
    assert elpd.loo_method(elpd.loo(exp.idata)) == m["loo_method"]


def test_inspect_flags_a_poor_q(tmp_path):
    """A deliberately narrow q: its draws' ratios have a large k, and the verdict says so."""
    from gplvm.run.inspection_report import variational_report
    from gplvm.run.loaded import load_run
    from gplvm.run.pipeline import fit_experiment, save_experiment

    exp = fit_experiment(load_config(*linear_file(tmp_path, 1), "inference=variational"))
    save_experiment(exp, tmp_path / "run", plot=False)
    run = load_run(tmp_path / "run")
    text = variational_report(run)
    assert "q against the posterior: Pareto k of the importance ratios" in text
    narrow = exp.idata["variational"].to_dataset()
    rng = np.random.default_rng(0)
    sd = 0.3 * np.sqrt(narrow["Z_var"].values)
    Z = narrow["Z_mean"].values + sd * rng.standard_normal((2, 250, *sd.shape))
    log_q = norm(narrow["Z_mean"].values, sd).logpdf(Z).sum(axis=(-2, -1))
    prior = norm(0, 1).logpdf(Z).sum(axis=(-2, -1))
    exact, _ = target_spec(exp.spec, exp.data.n_obs)
    log_lik = np.array([[exact.log_likelihood(z, exp.data.Y, {"beta": 1.0}) for z in chain] for chain in Z])
    k, threshold = importance_pareto_k(log_lik + prior, log_q)
    assert k > threshold


@pytest.mark.slow  # 3 seeds x (NUTS, 10 NUTS refits, a variational fit): about 3 minutes
def test_the_corrected_loo_is_closer_to_exact_kfold_than_the_uncorrected_one(tmp_path):
    """12 rows, 60 features, Q = 1, noise sd 1, beta fixed at the truth, 2 x 500 draws from q.
    elpd minus NUTS 10-fold over features, measured (2026-11-30):

    | seed | NUTS PSIS-LOO | q corrected | q uncorrected | q_pareto_k (threshold 0.67) |
    |---|---|---|---|---|
    | 0 | +2.09 | +2.92 | +4.16 | 0.19 |
    | 1 | +1.70 | +3.01 | +4.96 | 0.46 |
    | 2 | -1.70 | -0.06 | -0.43 | 0.69: flagged |

    Where q's k is good the corrected estimate must be the closer one; where it is not, the run
    must say so (there the correction carries no promise).
    """
    import arviz as az

    from gplvm.run.pipeline import fit_experiment

    good = 0
    for seed in range(3):
        common = linear_file(tmp_path, seed)
        nuts = fit_experiment(
            load_config(*common, "inference=nuts", "inference.draws=1000", "kfold.folds=10")
        )
        vi = fit_experiment(
            load_config(*common, "inference=variational", "model.num_inducing=12", "inference.draws=500")
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            uncorrected = float(az.loo(vi.idata, var_name="Y", reff=1.0).elpd)
        reference = nuts.metrics["elpd_kfold"]
        m = vi.metrics
        if m["q_pareto_k"] <= m["q_pareto_k_threshold"]:
            good += 1
            assert abs(m["elpd_loo"] - reference) < abs(uncorrected - reference), seed
        else:
            assert m["q_warning"] is not None, seed
    assert good >= 2
