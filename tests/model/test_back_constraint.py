"""Back-constraints (``latent_prior=back_constrained``): Z = g(Y), fitted and used to place rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gplvm.config import BackConstrainedConfig, load_config
from gplvm.errors import ConfigError, DataError
from gplvm.inference.python_mode import python_mode
from gplvm.model.latent_priors.back_constraint import WEIGHTS, BackConstraint
from tests.helpers import point_at_first_draw, point_for


def mapping_for(Y, **settings) -> BackConstraint:
    return BackConstraint.from_config(BackConstrainedConfig(**settings), Y, prior_scale=1.0, seed=0)


def test_g_is_normalised_rbf_weights_times_w_and_the_whitened_form_is_the_same_map():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((40, 5))
    bc = mapping_for(Y, num_centres=15, lengthscale=1.3)
    # phi from its definition, independently of the class's code
    sq = ((Y[:, None, :] - bc.centres[None, :, :]) ** 2).sum(axis=-1)
    k = np.exp(-0.5 * sq / 1.3**2)
    phi = k / k.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(bc.features(Y), phi, rtol=1e-10)
    A = rng.standard_normal((len(bc.basis[1]), 2))
    np.testing.assert_allclose(bc.whitened_latents(A), phi @ bc.weights(A), atol=1e-10)
    # the start reproduces latents g can reach, up to its small ridge
    Z0 = phi @ rng.standard_normal((15, 2))
    np.testing.assert_allclose(bc.whitened_latents(bc.start_whitened(Z0)), Z0, atol=0.05 * np.abs(Z0).max())
    # the default weight scale gives latents of mean prior variance 1
    W_draws = bc.weight_scale * rng.standard_normal((4000, 15))
    assert np.mean((W_draws @ phi.T) ** 2) == pytest.approx(1.0, rel=0.05)


def test_the_default_length_scale_splits_rows_between_their_nearest_centres():
    Y = np.random.default_rng(1).standard_normal((301, 4))  # odd: the median is one row's
    bc = mapping_for(Y, num_centres=50)
    phi = np.sort(bc.features(Y), axis=1)[:, ::-1]
    own = np.isin(Y, bc.centres).all(axis=1).astype(int)  # a centre's nearest centre is itself
    rows = np.arange(len(Y))
    ratio = phi[rows, own + 1] / phi[rows, own]  # second-nearest over nearest other centre
    assert np.median(ratio) == pytest.approx(np.exp(-2.0), rel=1e-9)


def digits_files(tmp_path):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    frame = pd.DataFrame(X[order]).add_prefix("p")
    frame["digit"] = y[order]
    frame.iloc[300:].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[:300].to_csv(tmp_path / "test.csv", index=False)
    return frame.iloc[:300]


def continuity(Y: np.ndarray, Z: np.ndarray) -> float:
    """Whether rows close in data space stay close in latent space: scikit-learn's trustworthiness
    with the two spaces swapped."""
    from sklearn.manifold import trustworthiness

    return float(trustworthiness(Z, Y, n_neighbors=10))


@pytest.fixture(scope="module")
def digit_runs(tmp_path_factory):
    """A free and a back-constrained rbf MAP on 1497 digits (300 held out), saved."""
    from gplvm.run.pipeline import fit_experiment, save_experiment

    tmp_path = tmp_path_factory.mktemp("digits")
    test = digits_files(tmp_path)
    common = ["dataset=file", f"dataset.path={tmp_path / 'train.csv'}", "dataset.label_column=digit"]
    runs = {}
    for name, extra in (("free", []), ("bc", ["latent_prior=back_constrained"])):
        exp = fit_experiment(load_config(*common, "model=rbf", "plot=false", *extra))
        save_experiment(exp, tmp_path / name, plot=False)
        runs[name] = exp
    return tmp_path, runs, test


def test_back_constraints_keep_data_neighbours_together_and_place_new_rows_through_g(digit_runs):
    """Measured (2026-11-30, 1497 training digits, 300 held out): continuity 0.964 against the free
    GPLVM's 0.946; 1-NN accuracy of held-out rows placed by g 0.933, by the free GPLVM's optimised
    projection 0.947 (and g 369x faster than optimised placement: make bench)."""
    from sklearn.neighbors import KNeighborsClassifier

    import gplvm

    tmp_path, runs, test = digit_runs
    free, bc = runs["free"], runs["bc"]
    Y = free.data.Y
    assert continuity(Y, bc.fit.point_estimate()) > continuity(Y, free.fit.point_estimate()) + 0.01
    rows, labels = test.drop(columns="digit").to_numpy(), test["digit"].to_numpy()
    accuracy = {}
    for name in ("free", "bc"):
        run = gplvm.load_run(tmp_path / name)
        placed = run.project(rows)
        knn = KNeighborsClassifier(1).fit(run.latents, run.tree.constant_data["label"].values.astype(int))
        accuracy[name] = knn.score(placed.Z, labels)
        if name == "bc":
            assert placed.method == "back_constraint"
            # g by hand: the stored centres, length scale and weights, in the run's fitted units
            constant = run.tree.constant_data
            Y_new = run.to_fitted_units(rows)
            sq = ((Y_new[:, None, :] - constant["bc_centres"].values[None]) ** 2).sum(axis=-1)
            k = np.exp(-0.5 * (sq - sq.min(axis=1, keepdims=True)) / float(constant["bc_lengthscale"]) ** 2)
            by_hand = (k / k.sum(axis=1, keepdims=True)) @ run.tree.posterior[WEIGHTS].values[0, 0]
            np.testing.assert_allclose(placed.Z, by_hand, rtol=1e-9)
    assert accuracy["bc"] > accuracy["free"] - 0.03, accuracy


def test_the_record_is_the_models_density_and_inspect_names_the_mapping(digit_runs):
    from gplvm.inference import method_for
    from gplvm.run.inspection_report import model_line

    _, runs, _ = digit_runs
    bc = runs["bc"]
    model = method_for(bc.cfg.inference).build_model(bc.data, bc.spec)
    point = point_at_first_draw(model, bc.idata.posterior)
    logp = model.compile_logp(jacobian=False, mode=python_mode())(point)
    assert float(logp) == pytest.approx(bc.metrics["log_posterior"], rel=1e-9)
    record = bc.metrics["latent_prior"]
    assert record["name"] == "back_constrained" and record["num_centres"] == 200
    assert "back-constrained, Z = g(Y) through an rbf kernel over 200 training rows" in model_line(bc.record)


def test_gplvm_project_reports_how_far_g_is_from_the_optimum(digit_runs, capsys):
    from gplvm.cli.project import main

    tmp_path, _, _ = digit_runs
    out = tmp_path / "projected"
    assert main([str(tmp_path / "bc"), str(tmp_path / "test.csv"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "through the back-constraint g" in printed and "latent sds from the optimised one" in printed
    distance = xr.open_datatree(out / "projection.nc")["projection"]["optimised_distance"].values
    assert distance.shape == (300,) and np.all(np.isfinite(distance)) and np.all(distance >= 0)


def test_nuts_samples_the_whitened_weights(tmp_path):
    from gplvm.run.pipeline import fit_experiment

    rng = np.random.default_rng(2)
    t = rng.uniform(0, 3, 60)
    frame = pd.DataFrame(np.column_stack([np.sin(t), np.cos(t), t]) @ rng.standard_normal((3, 8)))
    frame.add_prefix("y").to_csv(tmp_path / "d.csv", index=False)
    exp = fit_experiment(
        load_config(
            "dataset=file",
            f"dataset.path={tmp_path / 'd.csv'}",
            "plot=false",
            "latent_prior=back_constrained",
            "latent_prior.num_centres=20",
            "inference=nuts",
            "inference.draws=30",
            "inference.tune=30",
        )
    )
    posterior = exp.idata.posterior
    assert {"bc_whitened", "bc_weights", "Z"} <= set(posterior.data_vars)
    # every draw's Z is g of the training rows under that draw's weights
    Z = posterior["Z"].values[1, 7]
    np.testing.assert_allclose(
        Z, exp.spec.back_constraint.latents(exp.data.Y, posterior[WEIGHTS].values[1, 7])
    )


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (
            ["inference=variational"],
            ConfigError,
            "latent_prior='back_constrained' is invalid: back-constraints",
        ),
        (
            ["latent_prior.lengthscale=0"],
            ConfigError,
            "latent_prior.lengthscale=0.0 is invalid: it must be > 0",
        ),
        (["latent_prior.mapping=mlp"], ConfigError, "latent_prior.mapping='mlp' is invalid"),
        (["dataset.missing=allow"], DataError, "maps complete rows to latents; this data has missing cells"),
    ],
)
def test_bad_settings_give_one_line(tmp_path, overrides, error, message):
    from gplvm.run.pipeline import fit_experiment

    Y = np.random.default_rng(0).standard_normal((30, 4))
    if "dataset.missing=allow" in overrides:
        Y[3, 1] = np.nan
    pd.DataFrame(Y).add_prefix("y").to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(error) as info:
        fit_experiment(
            load_config(
                "dataset=file",
                f"dataset.path={tmp_path / 'd.csv'}",
                "plot=false",
                "latent_prior=back_constrained",
                *overrides,
            )
        )
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_models_gradient_in_the_whitened_weights_matches_central_differences(tmp_path):
    from gplvm.config import Init
    from gplvm.inference.base import starting_point
    from gplvm.inference.map import MapMethod
    from gplvm.run.pipeline import fit_experiment

    rng = np.random.default_rng(4)
    pd.DataFrame(rng.standard_normal((25, 6))).add_prefix("y").to_csv(tmp_path / "d.csv", index=False)
    cfg = load_config(
        "dataset=file",
        f"dataset.path={tmp_path / 'd.csv'}",
        "model=rbf",
        "plot=false",
        "latent_prior=back_constrained",
        "latent_prior.num_centres=10",
        "inference.maxiter=2",
    )
    exp = fit_experiment(cfg)
    model = MapMethod(cfg.inference).build_model(exp.data, exp.spec)
    point = point_for(model, starting_point(exp.data, exp.spec, Init.pca, 0))
    logp = model.compile_logp(jacobian=False, mode=python_mode())
    grad = model.compile_dlogp(vars=[model["bc_whitened"]], jacobian=False, mode=python_mode())(point)
    h = 1e-6
    for index in [(0, 0), (3, 1), (7, 0)]:
        bumped = [dict(point, bc_whitened=point["bc_whitened"].copy()) for _ in range(2)]
        bumped[0]["bc_whitened"][index] += h
        bumped[1]["bc_whitened"][index] -= h
        numeric = (logp(bumped[0]) - logp(bumped[1])) / (2 * h)
        assert grad.reshape(point["bc_whitened"].shape)[index] == pytest.approx(numeric, rel=1e-5)
