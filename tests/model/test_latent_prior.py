"""The GP latent prior (``latent_prior=gp``): its density, gradients, the iid limit and recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.stats import multivariate_normal

from gplvm.config import GPLatentPriorConfig, PriorConfig, load_config
from gplvm.errors import ConfigError, DataError
from gplvm.inference.python_mode import python_mode
from gplvm.model.kernels import make_kernel
from gplvm.model.latent_priors import GPLatentPrior
from tests.helpers import point_at_first_draw


def prior_for(times, groups=None, kernel="rbf", white=0.05, prior_scale=1.3) -> GPLatentPrior:
    covariates = {"time": np.asarray(times, dtype=str)}
    if groups is not None:
        covariates["run"] = np.asarray(groups, dtype=str)
    cfg = GPLatentPriorConfig(
        inputs=["time"], group=None if groups is None else "run", kernel=kernel, white=white
    )
    return GPLatentPrior.from_config(cfg, covariates, prior_scale)


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
@pytest.mark.parametrize("groups", [None, [0, 0, 0, 1, 1, 1, 1, 2]])
def test_log_density_is_scipys_multivariate_normal_per_latent_dim(kernel, groups):
    times = np.array([0.0, 0.5, 1.5, 0.1, 0.9, 2.0, 3.5, 1.0])
    prior = prior_for(times, groups, kernel)
    Z = np.random.default_rng(0).standard_normal((8, 3))
    # K_t from its definition, independently of the prior's own code
    t = (times - times.mean()) / times.std()
    unit = make_kernel(kernel).cross_np(
        t[:, None], t[:, None], {"variance": 1.0, "lengthscale": 0.7, "bias": 0.0}
    )
    if groups is not None:
        unit = unit * (np.asarray(groups)[:, None] == np.asarray(groups)[None, :])
    K = 1.3**2 * (0.95 * unit + (0.05 + 1e-8) * np.eye(8))
    expected = sum(multivariate_normal(np.zeros(8), K).logpdf(Z[:, q]) for q in range(3))
    assert prior.log_density_np(Z, 0.7) == pytest.approx(expected, rel=1e-12)
    Z_in, ell = pt.matrix("Z"), pt.scalar("ell")
    graph = pytensor.function([Z_in, ell], prior.log_density(Z_in, ell))
    assert float(graph(Z, 0.7)) == pytest.approx(expected, rel=1e-10)


def test_gradients_match_central_differences():
    prior = prior_for(np.linspace(0, 3, 10), kernel="matern52")
    Z0 = np.random.default_rng(1).standard_normal((10, 2))
    Z_in, ell = pt.matrix("Z"), pt.scalar("ell")
    value = prior.log_density(Z_in, ell)
    grads = pytensor.function([Z_in, ell], pt.grad(value, [Z_in, ell]))
    dZ, dell = grads(Z0, 0.8)
    h = 1e-6
    bump = np.zeros_like(Z0)
    bump[3, 1] = h
    numeric_Z = (prior.log_density_np(Z0 + bump, 0.8) - prior.log_density_np(Z0 - bump, 0.8)) / (2 * h)
    numeric_ell = (prior.log_density_np(Z0, 0.8 + h) - prior.log_density_np(Z0, 0.8 - h)) / (2 * h)
    assert dZ[3, 1] == pytest.approx(numeric_Z, rel=1e-6)
    assert float(dell) == pytest.approx(numeric_ell, rel=1e-5)


def test_with_every_row_its_own_sequence_the_gp_prior_is_the_iid_prior():
    """M = I gives K_t = s^2 I: value and gradient of the iid Normal prior."""
    prior = prior_for(np.arange(6.0), groups=np.arange(6), prior_scale=1.7)
    Z = np.random.default_rng(2).standard_normal((6, 2))
    iid = multivariate_normal(np.zeros(12), 1.7**2 * np.eye(12)).logpdf(Z.ravel())
    assert prior.log_density_np(Z, 0.5) == pytest.approx(iid, rel=1e-7)  # the 1e-8 jitter aside
    Z_in = pt.matrix("Z")
    grad = pytensor.function([Z_in], pt.grad(prior.log_density(Z_in, 0.5), Z_in))(Z)
    np.testing.assert_allclose(grad, -Z / 1.7**2, rtol=1e-7)


def trajectory_files(tmp_path):
    """A smooth 2-D trajectory over time, mapped non-linearly into 20 dims with noise; the file
    with a time column, and the same data without it (for the iid fit)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 4 * np.pi, 150)
    trajectory = np.column_stack([np.sin(t), np.cos(0.5 * t)])
    Y = np.tanh(trajectory @ rng.standard_normal((2, 20))) + 0.1 * rng.standard_normal((150, 20))
    frame = pd.DataFrame(Y).add_prefix("y")
    frame.to_csv(tmp_path / "plain.csv", index=False)
    frame.insert(0, "time", t)
    frame.to_csv(tmp_path / "timed.csv", index=False)
    return trajectory


def procrustes_error(Z: np.ndarray, truth: np.ndarray) -> float:
    """||s Z R - truth||^2 / ||truth||^2 after centring, at the best rotation R and scale s."""
    A, B = truth - truth.mean(axis=0), Z - Z.mean(axis=0)
    U, singular, Vt = np.linalg.svd(B.T @ A)
    scale = singular.sum() / np.sum(B**2)
    return float(np.sum((scale * B @ U @ Vt - A) ** 2) / np.sum(A**2))


def test_the_gp_prior_recovers_a_trajectory_that_the_iid_prior_does_not(tmp_path):
    """Measured (2026-11-30): Procrustes error 0.015 with the GP prior over time, 0.154 without."""
    from gplvm.run.pipeline import fit_experiment

    truth = trajectory_files(tmp_path)
    common = ["dataset=file", "model=rbf", "plot=false"]
    iid = fit_experiment(load_config(*common, f"dataset.path={tmp_path / 'plain.csv'}"))
    gp = fit_experiment(
        load_config(
            *common, f"dataset.path={tmp_path / 'timed.csv'}", "latent_prior=gp", "latent_prior.inputs=[time]"
        )
    )
    assert gp.data.n_features == iid.data.n_features == 20  # the time column is not data
    gp_error, iid_error = (procrustes_error(e.fit.point_estimate(), truth) for e in (gp, iid))
    assert gp_error < 0.05 and gp_error < iid_error / 5, (gp_error, iid_error)
    record = gp.metrics["latent_prior"]
    assert record["inputs"] == ["time"] and record["lengthscale"] > 0 and record["lengthscale_learned"]
    # The record's log posterior (NumPy, GP prior included) is the PyMC model's density at the MAP.
    from gplvm.inference import method_for

    model = method_for(gp.cfg.inference).build_model(gp.data, gp.spec)
    point = point_at_first_draw(model, gp.idata.posterior)
    logp = model.compile_logp(jacobian=False, mode=python_mode())(point)
    assert float(logp) == pytest.approx(gp.metrics["log_posterior"], rel=1e-9)


LABEL = "dataset.label_column=word"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["latent_prior.inputs=[clock]", LABEL], DataError, "column 'clock' is not a column of"),
        (
            ["latent_prior.inputs=[word]"],
            DataError,
            "covariate column 'word', row 0 (counting from 0): 'a' is",
        ),
        (["latent_prior.inputs=[flat]", LABEL], DataError, "covariate column 'flat' is constant"),
        (
            ["latent_prior.inputs=[time]", "latent_prior.max_rows=10", LABEL],
            ConfigError,
            "above latent_prior.max_rows=10",
        ),
        ([LABEL], ConfigError, "latent_prior.inputs=[] is invalid: name one or more covariate columns"),
        (
            ["latent_prior.inputs=[step]", "latent_prior.white=0", LABEL],
            DataError,
            "rows 0 and 1 (counting from 0) have the same step: with latent_prior.white=0",
        ),
    ],
)
def test_bad_covariates_give_one_line(tmp_path, overrides, error, message):
    from gplvm.run.pipeline import fit_experiment

    frame = pd.DataFrame(np.random.default_rng(0).standard_normal((12, 3))).add_prefix("y")
    frame["time"], frame["word"], frame["flat"] = np.arange(12.0), "a", 1.0
    frame["step"] = np.arange(12) // 2
    frame.to_csv(tmp_path / "d.csv", index=False)
    cfg = load_config(
        "dataset=file", f"dataset.path={tmp_path / 'd.csv'}", "plot=false", "latent_prior=gp", *overrides
    )
    with pytest.raises(error) as info:
        fit_experiment(cfg)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_covariates_need_a_data_file():
    from gplvm.run.pipeline import fit_experiment

    with pytest.raises(DataError, match="need dataset=file with those columns; the iris dataset has none"):
        fit_experiment(load_config("dataset=iris", "latent_prior=gp", "latent_prior.inputs=[time]"))


def test_config_ranges():
    with pytest.raises(ConfigError, match=r"latent_prior\.white=1\.0 is invalid"):
        GPLatentPriorConfig(inputs=["t"], white=1.0)
    with pytest.raises(ConfigError, match=r"latent_prior\.kernel='linear' is invalid"):
        GPLatentPriorConfig(inputs=["t"], kernel="linear")
    with pytest.raises(ConfigError, match=r"latent_prior\.group='t' is invalid"):
        GPLatentPriorConfig(inputs=["t"], group="t")
    assert GPLatentPriorConfig(inputs=["t"]).lengthscale_prior == PriorConfig()


def test_the_noncentred_model_is_the_centred_one_in_whitened_coordinates(tmp_path):
    """Z = L_t V: log p(V) = log p(Z = L_t V) + Q log|L_t| (the change of variables), all else equal."""
    from gplvm.model.latent_priors import LENGTHSCALE, WHITENED
    from gplvm.model.pymc_model import build_model
    from gplvm.run.pipeline import fit_experiment

    trajectory_files(tmp_path)
    cfg = load_config(
        "dataset=file",
        f"dataset.path={tmp_path / 'timed.csv'}",
        "dataset.max_obs=40",
        "model=rbf",
        "plot=false",
        "latent_prior=gp",
        "latent_prior.inputs=[time]",
        "inference.maxiter=5",
    )
    exp = fit_experiment(cfg)
    prior = exp.spec.latent_prior
    centred = build_model(exp.data, exp.spec)
    noncentred = build_model(exp.data, exp.spec, noncentred=True)
    V = np.random.default_rng(3).standard_normal((40, 2))
    ell = 0.8
    L = np.linalg.cholesky(prior.covariance_np(ell))
    shared = {"beta_log__": np.log(30.0), "variance_log__": np.log(1.5), f"{LENGTHSCALE}_log__": np.log(ell)}
    at_Z = centred.compile_logp(jacobian=False, mode=python_mode())({**shared, "Z": L @ V})
    at_V = noncentred.compile_logp(jacobian=False, mode=python_mode())({**shared, WHITENED: V})
    assert float(at_V) == pytest.approx(float(at_Z) + 2 * np.sum(np.log(np.diag(L))), rel=1e-10)


@pytest.mark.slow  # a NUTS compile and 2 x 400 draws (40 s)
def test_nuts_samples_the_gp_prior_non_centred(tmp_path):
    from gplvm.run.pipeline import fit_experiment

    trajectory_files(tmp_path)
    exp = fit_experiment(
        load_config(
            "dataset=file",
            f"dataset.path={tmp_path / 'timed.csv'}",
            "dataset.max_obs=60",
            "model=rbf",
            "plot=false",
            "inference=nuts",
            "inference.draws=200",
            "inference.tune=200",
            "latent_prior=gp",
            "latent_prior.inputs=[time]",
        )
    )
    posterior = exp.idata.posterior
    assert {"Z_whitened", "latent_lengthscale", "Z"} <= set(posterior.data_vars)
    assert exp.metrics["rhat_max_invariants"] < 1.05
    assert exp.metrics["latent_prior"]["lengthscale"] > 0


def full_gaussian_kl(m: np.ndarray, S: np.ndarray, K: np.ndarray) -> float:
    """KL(N(m, S) || N(0, K)) from its textbook formula, with explicit inverses and determinants."""
    K_inv = np.linalg.inv(K)
    return 0.5 * float(
        np.trace(K_inv @ S) + m @ K_inv @ m - len(m) + np.linalg.slogdet(K)[1] - np.linalg.slogdet(S)[1]
    )


def test_vgpds_q_and_its_kl_match_the_full_gaussians():
    from gplvm.model.latent_priors import vgpds_q, vgpds_q_np

    prior = prior_for(np.linspace(0, 2, 9), kernel="matern52", white=0.05)
    K = prior.covariance_np(0.6)
    rng = np.random.default_rng(4)
    mubar, lam = rng.standard_normal((9, 2)), rng.uniform(0.5, 20, (9, 2))
    mean, covariances = vgpds_q_np(K, mubar, lam)  # S_q = (K^-1 + diag lam_q)^-1 by inversion
    expected_kl = sum(full_gaussian_kl(mean[:, q], covariances[q], K) for q in range(2))
    K_in, mubar_in, lam_in = pt.matrix("K"), pt.matrix("mubar"), pt.matrix("lam")
    graph = pytensor.function([K_in, mubar_in, lam_in], list(vgpds_q(K_in, mubar_in, lam_in, 2)))
    g_mean, g_var, g_kl = graph(K, mubar, lam)
    np.testing.assert_allclose(g_mean, K @ mubar, rtol=1e-12)
    np.testing.assert_allclose(g_var, np.stack([np.diag(S) for S in covariances], axis=1), rtol=1e-9)
    assert float(g_kl) == pytest.approx(expected_kl, rel=1e-9)


def test_vgpds_kl_gradients_match_central_differences():
    from gplvm.model.latent_priors import vgpds_q

    prior = prior_for(np.linspace(0, 2, 7))
    rng = np.random.default_rng(5)
    mubar0, lam0, ell0 = rng.standard_normal((7, 2)), rng.uniform(0.5, 5, (7, 2)), 0.7
    mubar_in, lam_in, ell_in = pt.matrix("mubar"), pt.matrix("lam"), pt.scalar("ell")
    _, variance, kl = vgpds_q(prior.covariance(ell_in), mubar_in, lam_in, 2)
    objective = kl + pt.sum(variance)  # both outputs' gradients at once
    value = pytensor.function([mubar_in, lam_in, ell_in], objective)
    grads = pytensor.function([mubar_in, lam_in, ell_in], pt.grad(objective, [mubar_in, lam_in, ell_in]))
    d_mubar, d_lam, d_ell = grads(mubar0, lam0, ell0)
    h = 1e-6
    for array, grad, which in ((mubar0, d_mubar, 0), (lam0, d_lam, 1)):
        bump = np.zeros_like(array)
        bump[2, 1] = h
        args_plus = [mubar0, lam0, ell0]
        args_minus = [mubar0, lam0, ell0]
        args_plus[which], args_minus[which] = array + bump, array - bump
        numeric = (value(*args_plus) - value(*args_minus)) / (2 * h)
        assert grad[2, 1] == pytest.approx(float(numeric), rel=1e-5)
    numeric_ell = (value(mubar0, lam0, ell0 + h) - value(mubar0, lam0, ell0 - h)) / (2 * h)
    assert float(d_ell) == pytest.approx(float(numeric_ell), rel=1e-5)


def test_a_variational_fit_with_the_gp_prior_stores_its_q(tmp_path):
    """The Bayesian GPLVM under the GP prior: q's parameters, marginals that match them, and draws
    from the correlated q (a short fit: the bound's comparison is the slow test below)."""
    from gplvm.model.latent_priors import vgpds_q_np
    from gplvm.run.pipeline import fit_experiment

    trajectory_files(tmp_path)
    common = [
        "dataset=file",
        "dataset.max_obs=60",
        "model=rbf",
        "inference=variational",
        "model.num_inducing=15",
    ]
    common += ["plot=false", "inference.maxiter=300", "inference.draws=100"]
    gp = fit_experiment(
        load_config(
            *common, f"dataset.path={tmp_path / 'timed.csv'}", "latent_prior=gp", "latent_prior.inputs=[time]"
        )
    )
    q = gp.idata["variational"]
    ell = gp.metrics["latent_prior"]["lengthscale"]
    mean, covariances = vgpds_q_np(
        gp.spec.latent_prior.covariance_np(ell), q["Z_mubar"].values, q["Z_lambda"].values
    )
    np.testing.assert_allclose(q["Z_mean"].values, mean, rtol=1e-8)
    np.testing.assert_allclose(
        q["Z_var"].values, np.stack([np.diag(S) for S in covariances], axis=1), rtol=1e-8
    )
    draws = gp.idata.posterior["Z"].values.reshape(-1, 60, 2)
    np.testing.assert_allclose(
        draws.mean(axis=0), mean, atol=5 * np.sqrt(q["Z_var"].values.max() / len(draws))
    )


@pytest.mark.slow  # two Bayesian GPLVM fits to convergence (75 s)
def test_the_gp_prior_raises_the_bound_on_a_trajectory_over_time(tmp_path):
    """Measured (2026-11-29): ELBO 1,979 with the GP prior over time against 1,390 iid (rbf ARD,
    M = 30, 150 rows)."""
    from gplvm.run.pipeline import fit_experiment

    trajectory_files(tmp_path)
    common = ["dataset=file", "model=rbf_ard", "inference=variational", "model.num_inducing=30", "plot=false"]
    timed = [f"dataset.path={tmp_path / 'timed.csv'}", "latent_prior=gp", "latent_prior.inputs=[time]"]
    gp = fit_experiment(load_config(*common, *timed))
    iid = fit_experiment(load_config(*common, f"dataset.path={tmp_path / 'plain.csv'}"))
    assert gp.metrics["elbo"] > iid.metrics["elbo"] + 100


def test_a_gp_run_draws_its_sequences_and_inspect_names_the_prior(tmp_path):
    import gplvm
    from gplvm.run.inspection_report import model_line
    from gplvm.run.pipeline import fit_experiment, latent_plot_request, save_experiment

    trajectory_files(tmp_path)
    cfg = load_config(
        "dataset=file",
        f"dataset.path={tmp_path / 'timed.csv'}",
        "dataset.max_obs=50",
        "model=rbf",
        "latent_prior=gp",
        "latent_prior.inputs=[time]",
    )
    exp = fit_experiment(cfg)
    name, args, _ = latent_plot_request(exp)
    assert name == "save_trajectory_plot" and args[3].startswith("GPLVM MAP with a GP prior over time")
    np.testing.assert_array_equal(args[1], np.linspace(0, 4 * np.pi, 150)[:50])  # the inputs, raw
    save_experiment(exp, tmp_path / "run")
    assert (tmp_path / "run" / "latent.png").stat().st_size > 10_000
    line = model_line(gplvm.load_run(tmp_path / "run").record)
    assert "latent prior: a GP over time (rbf, white 0.01), length scale" in line


def test_rows_removed_from_the_series_are_predicted_along_time(tmp_path):
    """Every 10th of the trajectory's 150 rows removed (15 rows), predicted at their times.
    Measured (2026-11-30): RMSE 0.111 for the GP-prior MAP against 0.125 for the best an iid fit
    could place them (the nearest training row in data space) and 0.119 for linear interpolation
    along time; the noise's own sd is 0.1. The 95% intervals covered 99% of the cells."""
    from gplvm.run.pipeline import fit_experiment

    rng = np.random.default_rng(0)
    t = np.linspace(0, 4 * np.pi, 150)
    trajectory = np.column_stack([np.sin(t), np.cos(0.5 * t)])
    Y = np.tanh(trajectory @ rng.standard_normal((2, 20))) + 0.1 * rng.standard_normal((150, 20))
    held = np.zeros(150, dtype=bool)
    held[5::10] = True
    frame = pd.DataFrame(Y[~held]).add_prefix("y")
    frame.insert(0, "time", t[~held])
    frame.to_csv(tmp_path / "series.csv", index=False)
    exp = fit_experiment(
        load_config(
            "dataset=file",
            f"dataset.path={tmp_path / 'series.csv'}",
            "model=rbf",
            "latent_prior=gp",
            "latent_prior.inputs=[time]",
        )
    )
    predicted = exp.predict_along(t[held][:, None])
    rmse = np.sqrt(np.mean((predicted.Y - Y[held]) ** 2))
    train = Y[~held]
    nearest = train[np.argmin(((Y[held][:, None, :] - train[None]) ** 2).sum(axis=2), axis=1)]
    interpolated = np.column_stack([np.interp(t[held], t[~held], train[:, d]) for d in range(20)])
    assert rmse < np.sqrt(np.mean((nearest - Y[held]) ** 2))
    assert rmse < np.sqrt(np.mean((interpolated - Y[held]) ** 2))
    assert np.mean(np.abs(predicted.Y - Y[held]) / predicted.Y_sd < 1.96) > 0.9
    assert predicted.Z.shape == (15, 2) and np.all(predicted.Z_sd > 0)


def test_prediction_along_inputs_needs_a_gp_prior():
    from gplvm.evaluate.along_inputs import predict_along_inputs
    from gplvm.run.pipeline import fit_experiment

    exp = fit_experiment(load_config("dataset=iris", "plot=false"))
    with pytest.raises(ValueError, match="needs a run with latent_prior=gp"):
        predict_along_inputs(
            exp.spec, exp.idata.posterior.to_dataset(), exp.data.Y, 0.0, 1.0, np.zeros((2, 1))
        )


def test_gplvm_project_at_new_inputs_matches_the_in_memory_prediction(tmp_path, capsys):
    """A saved GP-prior run keeps its covariates, so a loaded run predicts as the fitted one did."""
    import gplvm
    from gplvm.cli.project import main
    from gplvm.run.pipeline import fit_experiment, save_experiment

    trajectory_files(tmp_path)
    cfg = load_config(
        "dataset=file",
        f"dataset.path={tmp_path / 'timed.csv'}",
        "dataset.max_obs=60",
        "model=rbf",
        "latent_prior=gp",
        "latent_prior.inputs=[time]",
        "plot=false",
    )
    exp = fit_experiment(cfg)
    save_experiment(exp, tmp_path / "run", plot=False)
    times = np.array([0.3, 1.1, 2.0])
    pd.DataFrame({"time": times}).to_csv(tmp_path / "at.csv", index=False)
    assert (
        main([str(tmp_path / "run"), "--at", str(tmp_path / "at.csv"), "--out", str(tmp_path / "out")]) == 0
    )
    table = pd.read_csv(tmp_path / "out" / "along.csv")
    expected = exp.predict_along(times[:, None])
    np.testing.assert_allclose(table[[f"y{j}" for j in range(20)]].to_numpy(), expected.Y, rtol=1e-9)
    np.testing.assert_allclose(table[["z0_sd", "z1_sd"]].to_numpy(), expected.Z_sd, rtol=1e-9)
    np.testing.assert_allclose(
        gplvm.load_run(tmp_path / "run").predict_along(times[:, None]).Y, expected.Y, rtol=1e-9
    )
    assert main([str(tmp_path / "run")]) == 2
    assert "give either DATA_FILE (new rows) or --at INPUTS_FILE" in capsys.readouterr().err


def test_with_every_row_its_own_sequence_the_gp_fit_is_the_iid_fit(tmp_path):
    """K_t = s^2 I: the MAP reaches the iid prior's optimum (to the 1e-8 jitter and tolerance), up
    to a rotation (the rbf GPLVM's optimum is one), so Z Z^T and the log posterior are compared."""
    from gplvm.run.pipeline import fit_experiment

    trajectory_files(tmp_path)
    frame = pd.read_csv(tmp_path / "timed.csv")
    frame.insert(1, "row", np.arange(len(frame)))
    frame.to_csv(tmp_path / "grouped.csv", index=False)
    common = ["dataset=file", "dataset.max_obs=60", "model=rbf", "plot=false", "inference.tol=0"]
    iid = fit_experiment(load_config(*common, f"dataset.path={tmp_path / 'plain.csv'}"))
    gp = fit_experiment(
        load_config(
            *common,
            f"dataset.path={tmp_path / 'grouped.csv'}",
            "latent_prior=gp",
            "latent_prior.inputs=[time]",
            "latent_prior.group=row",
            "latent_prior.learn_lengthscale=false",
        )
    )
    Z_gp, Z_iid = gp.fit.point_estimate(), iid.fit.point_estimate()
    np.testing.assert_allclose(Z_gp @ Z_gp.T, Z_iid @ Z_iid.T, atol=1e-5)
    assert gp.metrics["log_posterior"] == pytest.approx(iid.metrics["log_posterior"], rel=1e-9)
