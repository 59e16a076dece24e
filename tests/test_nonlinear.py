"""Non-linear GPLVMs end to end: curved data, learned hyperparameters, jitter, NUTS and prediction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from gplvm.errors import NumericalError
from gplvm.evaluate.metrics import heldout_metrics
from gplvm.model import analytic
from gplvm.model import reference as cf
from gplvm.model.kernels.linear import Linear
from gplvm.model.kernels.rbf import RBF
from gplvm.model.spec import ModelSpec
from gplvm.run.pipeline import fit_experiment
from tests.helpers import tiny_config

CURVE = ("dataset=curve", "dataset.n_obs=60", "dataset.n_features=8", "model.latent_dim=1")


@pytest.fixture(scope="module")
def curve_fits(seed):
    """Linear and rbf MAP fits with Q = 1 on points along a 300-degree arc (the seed draws them)."""
    fits = ("linear", "rbf")
    return {m: fit_experiment(tiny_config(*CURVE, f"dataset.seed={seed}", f"model={m}")) for m in fits}


def test_rbf_unrolls_a_curve_that_the_linear_gplvm_folds(curve_fits, margin):
    """Over seeds 0-9 (data sets): linear 1-NN error 0.23-0.53, rbf 0.00-0.12, their ratio at
    most 0.29; log-likelihood gain 1,057-1,150. From the PCA start the rbf MAP does not always
    undo the fold everywhere: pieces of the arc can come out in reverse, so the rank correlation
    with the arc's position ranged 0.71-1.00."""
    linear, rbf = curve_fits["linear"].metrics, curve_fits["rbf"].metrics
    assert rbf["converged"], rbf["optimizer_message"]
    # One latent line: PCA folds the arc onto itself, so the two ends share neighbours.
    assert linear["knn_error"] == pytest.approx(linear["pca_knn_error"])
    margin("rbf 1-NN error", rbf["knn_error"], below=0.2)
    margin("rbf 1-NN error / linear's", rbf["knn_error"] / linear["knn_error"], below=0.5)
    margin("rbf log-likelihood - linear", rbf["log_likelihood"] - linear["log_likelihood"], above=500)
    t = curve_fits["rbf"].data.Z_true[:, 0]
    z = curve_fits["rbf"].fit.point_estimate()[:, 0]
    rho = np.corrcoef(np.argsort(np.argsort(t)), np.argsort(np.argsort(z)))[0, 1]
    margin("|rank correlation with the arc|", abs(rho), above=0.6)


def test_rbf_map_learns_the_noise_level(curve_fits, margin):
    """The arc has noise sd 0.05, so the noise precision is 400; the MAP's beta should be near it.
    Over seeds 0-9: 423-534."""
    fitted = curve_fits["rbf"].metrics["hyperparameters"]
    margin("beta / 400, log10 (the true precision)", abs(np.log10(fitted["beta"] / 400)), below=np.log10(2))
    assert set(curve_fits["rbf"].metrics["learned"]) == {"beta", "variance"}  # the preset fixes the scale
    post = curve_fits["rbf"].idata.posterior
    assert {"beta", "variance"} <= set(post.data_vars) and "lengthscale" not in post


def test_rbf_metrics_are_those_of_the_map(curve_fits):
    exp = curve_fits["rbf"]
    m = exp.metrics
    hyper = {k: m["hyperparameters"][k] for k in ("beta", "variance", "lengthscale", "bias")}
    Z = exp.fit.point_estimate()
    K = RBF(jitter=1e-6).K_np(Z, hyper)
    np.testing.assert_allclose(m["log_likelihood"], cf.log_likelihood_from_K(K, exp.data.Y), rtol=1e-10)
    assert m["analytic_gap"] is None and m["gram_rel_error"] is None  # no analytic optimum for rbf


def test_linear_map_with_learned_beta_reaches_the_profile_optimum():
    """The joint MAP of Z and beta: Z is the analytic optimum given beta, and beta maximises the profile.

    The profile log posterior p(beta) = max_Z log p(Z, beta | Y) has the analytic optimum inside,
    so a 1-D bounded search over log(beta) gives an independent reference.
    """
    exp = fit_experiment(tiny_config("model.learn.beta=true", "model.beta=1"))
    m, cfg = exp.metrics, exp.metrics
    assert m["converged"]
    data, spec = exp.data, ModelSpec.from_config(tiny_config("model.learn.beta=true").model)

    def neg_profile(log_beta: float) -> float:
        beta = float(np.exp(log_beta))
        Z = analytic.analytic_optimum(data.Y, spec.latent_dim, beta, spec.prior_scale).Z
        return -spec.log_posterior(Z, data.Y, {"beta": beta})

    best = minimize_scalar(neg_profile, bounds=(-5, 10), method="bounded", options={"xatol": 1e-10})
    np.testing.assert_allclose(cfg["beta"], np.exp(best.x), rtol=1e-5)
    assert m["gram_rel_error"] < 1e-6 and abs(m["analytic_gap_relative"]) < 1e-10


def test_k_that_cannot_be_factorised_is_named_with_its_hyperparameters():
    """Without jitter, an rbf K with beta^-1 = 1e-20 is singular in floating point; jitter fixes it."""
    bad = tiny_config(*CURVE, "model=rbf", "model.beta=1e20", "model.jitter=0")
    with pytest.raises(NumericalError) as info:
        fit_experiment(bad)
    message = str(info.value)
    assert "\n" not in message and message.startswith("K is not positive definite at the pca start")
    for part in ("beta=1.e+20", "variance=1.", "lengthscale=0.5", "jitter=0", "raise model.jitter"):
        assert part in message, message
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(RBF(jitter=0.0).K_np(np.zeros((3, 1)), _hyper(beta=1e20)))
    np.linalg.cholesky(RBF(jitter=1e-6).K_np(np.zeros((3, 1)), _hyper(beta=1e20)))


def _hyper(**values) -> dict:
    return {"beta": 1.0, "variance": 1.0, "lengthscale": 1.0, "bias": 0.0, **values}


def test_predictive_variance_of_rbf_between_noise_and_prior():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((30, 2))
    no_bias = _hyper(beta=1e4, variance=2.0, lengthscale=0.7)
    var = RBF(jitter=1e-6).predictive_variance(np.vstack([Z, [[50.0, 50.0]]]), Z, no_bias)
    assert np.all(var[:-1] < 2e-4)  # at the data: at most the noise variance 1e-4 (plus jitter)
    np.testing.assert_allclose(var[-1], 2.0, rtol=1e-10)  # far away: the prior variance
    hyper = _hyper(beta=1e4, variance=2.0, lengthscale=0.7, bias=0.1)
    # Against the explicit formula k** - k*^T K^-1 k* with an explicit inverse.
    Zs = rng.standard_normal((5, 2))
    kernel = RBF(jitter=1e-6)
    K_inv = np.linalg.inv(kernel.K_np(Z, hyper))
    cross = 2.0 * np.exp(-0.5 * ((Zs[:, None, :] - Z[None, :, :]) ** 2).sum(-1) / 0.7**2) + 0.1
    explicit = 2.1 - np.einsum("ia,ab,ib->i", cross, K_inv, cross)
    np.testing.assert_allclose(kernel.predictive_variance(Zs, Z, hyper), explicit, rtol=1e-6)


def test_predictive_variance_of_the_linear_kernel_has_a_closed_form():
    """var(z*) = z*^T (I - Z^T K^-1 Z) z* = z*^T (I + beta Z^T Z)^-1 z* by the Woodbury identity."""
    rng = np.random.default_rng(1)
    Z, Zs = rng.standard_normal((25, 3)), rng.standard_normal((7, 3))
    M = np.eye(3) + 4.0 * Z.T @ Z
    expected = np.einsum("iq,qr,ir->i", Zs, np.linalg.inv(M), Zs)
    got = Linear().predictive_variance(Zs, Z, {"beta": 4.0})
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_heldout_score_for_rbf_sums_to_the_likelihood_of_the_columns():
    cfg = tiny_config(*CURVE, "model=rbf")
    rng = np.random.default_rng(2)
    Z, Y = rng.standard_normal((60, 1)), rng.standard_normal((60, 3))
    hyper = _hyper(beta=5.0, variance=1.5, lengthscale=0.8)
    score = heldout_metrics(Z[None], [hyper], Y, ModelSpec.from_config(cfg.model, 60), ["a", "b", "c"])
    K = RBF(jitter=cfg.model.jitter).K_np(Z, hyper)
    np.testing.assert_allclose(3 * score["heldout_log_lik_per_feature"], cf.log_likelihood_from_K(K, Y))


@pytest.mark.slow  # its own numba compile of an rbf graph for nutpie: 20-35 s on an empty cache
def test_rbf_nuts_samples_hyperparameters_and_reports_them(tmp_path):
    """NUTS (nutpie) with a learned beta, variance and ARD length scales."""
    cfg = tiny_config(
        "dataset=curve",
        "dataset.n_obs=20",
        "dataset.n_features=5",
        "model=rbf_ard",
        "inference=nuts",
        "inference.draws=40",
        "inference.tune=150",
        "inference.progressbar=false",
    )
    exp = fit_experiment(cfg)
    post, m = exp.idata.posterior, exp.metrics
    assert post["lengthscale"].dims == ("chain", "draw", "latent_dim")
    assert post["beta"].dims == ("chain", "draw")
    # The per-draw log posterior (NumPy) plus the log-transform Jacobian is the sampler's own logp.
    learned = ("beta", "variance", "lengthscale")
    jacobian = sum(np.log(post[n].values).reshape(2, 40, -1).sum(axis=-1) for n in learned)
    expected = post["log_posterior"].values + jacobian
    np.testing.assert_allclose(exp.idata.sample_stats["logp"].values, expected, rtol=1e-10)
    assert len(m["hyperparameters"]["lengthscale"]) == 2 and len(m["latent_dim_sensitivity"]) == 2
    np.testing.assert_allclose(m["hyperparameters"]["beta"], post["beta"].values.mean())
    assert np.isfinite(m["rhat_max_invariants"]) and m["map_log_posterior"] is not None
    assert m["analytic_gap"] is None
    # gplvm-inspect summarises and plots the hyperparameters with the invariants.
    from gplvm.run.inspection import inspect
    from gplvm.run.pipeline import save_experiment

    save_experiment(exp, tmp_path)
    report = inspect(tmp_path)
    assert "rbf (ARD) kernel" in report and "learned: beta, variance, lengthscale" in report
    assert "lengthscale[0]" in report and "variance" in report
    assert (tmp_path / "inspect" / "trace_invariants.png").stat().st_size > 10_000
    assert (tmp_path / "inspect" / "latent_posterior.png").stat().st_size > 10_000  # shaded


def test_latent_plot_of_a_nonlinear_fit_is_shaded_by_predictive_variance(curve_fits, tmp_path):
    from gplvm.evaluate.shading import latent_shading
    from gplvm.run.pipeline import save_experiment

    exp = curve_fits["rbf"]
    Z = exp.fit.point_estimate()
    hyper = exp.metrics["hyperparameters"]
    shading = latent_shading(Z, hyper, exp.spec)
    assert shading.variance.shape == (2, 80)  # Q = 1: bands along dim 0
    # Lowest within the data's range, highest at the padded edges, where it nears the prior variance.
    inside = (shading.x > Z.min()) & (shading.x < Z.max())
    assert shading.variance[0, inside].min() < 0.1 * shading.variance[0].max()
    assert shading.variance[0].max() <= hyper["variance"] + 1e-12
    assert latent_shading(Z, {"beta": 1.0}, curve_fits["linear"].spec) is None  # linear: no shading
    save_experiment(exp, tmp_path)
    assert (tmp_path / "latent.png").stat().st_size > 10_000
    # gplvm-inspect rebuilds the same shading from the run directory alone.
    from gplvm.run.inspection import run_shading
    from gplvm.run.loaded import load_run

    rebuilt = run_shading(load_run(tmp_path), Z)
    np.testing.assert_allclose(rebuilt.variance, shading.variance, rtol=1e-12)


def test_heldout_score_prefers_rbf_on_the_curve():
    """Held-out feature columns of the arc are better predicted by the rbf latent space (Q = 1)."""
    scores = {
        m: fit_experiment(tiny_config(*CURVE, f"model={m}", "heldout.fraction=0.25", "plot=false")).metrics
        for m in ("linear", "rbf")
    }
    assert scores["rbf"]["n_heldout_features"] == 2
    linear, rbf = (scores[m]["heldout_log_lik_per_feature"] for m in ("linear", "rbf"))
    assert np.isfinite(rbf) and rbf > linear + 10, (linear, rbf)
