"""Latents for new rows (``gplvm-project``): the optimum, its uncertainty, the command's outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import cho_factor, cho_solve

import gplvm
from gplvm.cli.project import main
from gplvm.config import load_config
from gplvm.data.bundled import synthetic
from gplvm.run.pipeline import fit_experiment, save_experiment

DATA = ["dataset=synthetic", "dataset.n_obs=60", "dataset.n_features=6", "dataset.max_obs=40"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """An rbf MAP (Q = 2) on the first 40 of 60 synthetic rows, saved; and all 60 raw rows."""
    exp = fit_experiment(load_config(*DATA, "model=rbf"))
    path = tmp_path_factory.mktemp("rbf")
    save_experiment(exp, path, plot=False)
    raw, _, labels = synthetic(load_config(*DATA).dataset)
    return gplvm.load_run(path), raw, labels


def objective_on(Z_grid, y, run):
    """log p(y | z) + log p(z) for each z of a grid, from the GP predictive equations in plain NumPy."""
    spec, hyper = run.spec, run.hyperparameters
    Z, Y = run.latents, run.training_data()
    factor = cho_factor(spec.kernel.K_np(Z, hyper))
    cross = spec.kernel.cross_np(Z_grid, Z, hyper)
    mean = cross @ cho_solve(factor, Y)
    var = spec.kernel.diag_np(Z_grid, hyper) - np.einsum("ij,ji->i", cross, cho_solve(factor, cross.T))
    var = var + spec.kernel.noise_variance(hyper)
    D, s = Y.shape[1], spec.prior_scale
    log_lik = -0.5 * D * np.log(2 * np.pi * var) - 0.5 * np.sum((y - mean) ** 2, axis=1) / var
    return log_lik - 0.5 * np.sum(Z_grid**2, axis=1) / s**2 - np.log(2 * np.pi * s**2)


def test_no_grid_point_beats_the_projection(fitted):
    run, raw, _ = fitted
    new = raw[40:46]
    projection = run.project(new)
    Y_new = run.to_fitted_units(new)
    lo, hi = run.latents.min(axis=0) - 1.0, run.latents.max(axis=0) + 1.0
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 301), np.linspace(lo[1], hi[1], 301))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    for i, y in enumerate(Y_new):
        at_optimum = objective_on(projection.Z[i : i + 1], y, run)[0]
        np.testing.assert_allclose(projection.objective[i], at_optimum, rtol=1e-9)
        assert objective_on(grid, y, run).max() <= at_optimum + 1e-6 * abs(at_optimum)
    assert np.all(np.isfinite(projection.Z_sd)) and np.all(projection.Z_sd > 0)
    assert projection.method == "laplace" and projection.converged.all()


def test_a_new_row_with_missing_cells_is_projected_by_its_observed_columns(fitted):
    run, raw, _ = fitted
    new = raw[40:43].copy()
    new[:, [1, 4]] = np.nan  # the same two cells missing in every row
    projection = run.project(new)
    Y_new = run.to_fitted_units(new)
    observed = [0, 2, 3, 5]
    reduced = _RunWithColumns(run, observed)
    lo, hi = run.latents.min(axis=0) - 1.0, run.latents.max(axis=0) + 1.0
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 201), np.linspace(lo[1], hi[1], 201))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    for i, y in enumerate(Y_new[:, observed]):
        at_optimum = objective_on(projection.Z[i : i + 1], y, reduced)[0]
        np.testing.assert_allclose(projection.objective[i], at_optimum, rtol=1e-9)
        assert objective_on(grid, y, reduced).max() <= at_optimum + 1e-6 * abs(at_optimum)


class _RunWithColumns:
    """A fitted run seen through some of its feature columns (what the objective of a row uses)."""

    def __init__(self, run, columns):
        self.spec, self.hyperparameters, self.latents = run.spec, run.hyperparameters, run.latents
        self._Y = run.training_data()[:, columns]

    def training_data(self):
        return self._Y


def test_training_rows_land_near_their_fitted_latents(fitted):
    run, raw, _ = fitted
    projection = run.project(raw[:40])
    Z = run.latents
    spread = np.sqrt(np.mean(np.sum((Z - Z.mean(axis=0)) ** 2, axis=1)))
    relative = np.median(np.linalg.norm(projection.Z - Z, axis=1)) / spread
    print(f"median distance / spread of the latents: {relative:.4f}")  # 6e-4 when written
    assert relative < 0.05


def test_runs_with_draws_project_each_draw(tmp_path, nuts_run):
    save_experiment(nuts_run, tmp_path, plot=False)
    run = gplvm.load_run(tmp_path)
    rows = run.training_data()[:5] + run.tree.constant_data["feature_offset"].values
    point = run.project(rows, max_draws=1)
    several = run.project(rows, max_draws=6)
    assert (point.n_draws, several.n_draws) == (1, 6)
    assert several.Z.shape == (5, 2) and np.all(np.isfinite(several.Z_sd))
    # The draws' spread adds to each draw's own Laplace uncertainty.
    assert np.median(several.Z_sd) > 0.5 * np.median(point.Z_sd)


def test_gplvm_project_writes_latents_in_row_order(tmp_path, fitted):
    run, raw, labels = fitted
    table = pd.DataFrame(raw[40:50][:, ::-1], columns=[f"x{j}" for j in range(6)][::-1])
    table["kind"] = labels[40:50]
    table.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "out"
    assert main([str(run.path), str(tmp_path / "new.csv"), "--out", str(out), "--label-column", "kind"]) == 0
    latents = pd.read_csv(out / "latents.csv")
    assert list(latents.columns) == ["z0", "z1", "z0_sd", "z1_sd", "label"]
    expected = run.project(raw[40:50])  # columns reordered by name in the file
    np.testing.assert_allclose(latents[["z0", "z1"]].to_numpy(), expected.Z, rtol=1e-9)
    assert list(latents["label"].astype(str)) == list(labels[40:50])
    assert (out / "projection.png").stat().st_size > 5000
    import arviz as az

    tree = az.from_netcdf(out / "projection.nc")
    np.testing.assert_allclose(tree["projection"]["Z_sd"].values, expected.Z_sd, rtol=1e-9)


def test_unlabelled_and_headerless_rows_are_projected(tmp_path, fitted):
    """A run fitted with a label column projects rows without it (the usual case), and a CSV without
    a header row by position; a headerless file with the wrong column count is refused."""
    run, raw, _ = fitted
    names = [f"x{j}" for j in range(6)]
    expected = run.project(raw[40:45])
    pd.DataFrame(raw[40:45], columns=names).to_csv(tmp_path / "named.csv", index=False)
    pd.DataFrame(raw[40:45]).to_csv(tmp_path / "bare.csv", index=False, header=False)
    for name in ("named", "bare"):
        out = tmp_path / f"out_{name}"
        assert main([str(run.path), str(tmp_path / f"{name}.csv"), "--out", str(out)]) == 0
        latents = pd.read_csv(out / "latents.csv")
        assert list(latents.columns) == ["z0", "z1", "z0_sd", "z1_sd"]
        np.testing.assert_allclose(latents[["z0", "z1"]].to_numpy(), expected.Z, rtol=1e-9)
    pd.DataFrame(raw[40:45, :5]).to_csv(tmp_path / "short.csv", index=False, header=False)
    assert main([str(run.path), str(tmp_path / "short.csv")]) == 2


def test_the_runs_label_column_is_used_only_when_the_file_has_it(tmp_path, fitted):
    from gplvm.run.projection_files import label_column_for

    run, raw, _ = fitted
    path = tmp_path / "rows.csv"
    pd.DataFrame(raw[40:42], columns=[f"x{j}" for j in range(6)]).to_csv(path, index=False)
    assert label_column_for(run, path, None) is None  # the synthetic run has no label column
    assert label_column_for(run, path, "") is None  # --label-column '': none
    assert label_column_for(run, path, "kind") == "kind"  # asked for: must be there


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("columns", "has 3 data columns; the run was fitted on 6 (x0, x1, x2, x3, x4, x5)"),
        ("inf", "infinite value at row 1, column 2 (counting from 0)"),
        ("empty_row", "row 1 (counting from 0) has no observed value (1 such); drop it"),
        ("no_run", "no such directory"),
        ("running", "the run is stale"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, fitted, capsys, setup, message):
    run, raw, _ = fitted
    rows = raw[40:43].copy()
    run_dir = run.path
    if setup == "columns":
        rows = rows[:, :3]
    elif setup == "inf":
        rows[1, 2] = np.inf
    elif setup == "empty_row":
        rows[1] = np.nan
    elif setup == "no_run":
        run_dir = tmp_path / "missing"
    elif setup == "running":
        run_dir = tmp_path / "running"
        run_dir.mkdir()
        (run_dir / "metrics.json").write_text('{"status": "running", "pid": 1, "host": "elsewhere"}')
    np.save(tmp_path / "new.npy", rows)
    assert main([str(run_dir), str(tmp_path / "new.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gplvm-project: error:") and message in err and "\n" not in err


@pytest.fixture(scope="module")
def variational_fitted(tmp_path_factory):
    """A Bayesian GPLVM (rbf ARD, Q = 2, M = 8) on the first 40 of 60 synthetic rows, saved."""
    overrides = ["model=rbf_ard", "model.num_inducing=8", "inference=variational", "inference.draws=20"]
    overrides += ["inference.maxiter=300"]
    exp = fit_experiment(load_config(*DATA, *overrides, "inference.progress_seconds=0"))
    path = tmp_path_factory.mktemp("variational")
    save_experiment(exp, path, plot=False)
    raw, _, _ = synthetic(load_config(*DATA).dataset)
    return gplvm.load_run(path), raw


def _gauss_hermite_2d(mean, variance, order=40):
    """Points (P, 2) and weights (P,) that integrate against N(mean, diag variance), Q = 2."""
    x, w = np.polynomial.hermite.hermgauss(order)
    grid = np.stack(np.meshgrid(x, x, indexing="ij"), -1).reshape(-1, 2)
    weights = np.outer(w, w).ravel() / np.pi
    return mean + np.sqrt(2.0 * variance) * grid, weights


def q_u_by_quadrature(run):
    """The collapsed bound's optimal q(u_d) = N(m_d, S_u) from the training q(Z), by quadrature:
    (K_uu, S_u, m, noise)."""
    kernel, hyper = run.spec.kernel, run.hyperparameters
    U, Y = hyper["inducing"], run.training_data()
    q = run.tree["variational"]
    K_uu = kernel.covariance_np(U, hyper)
    K_uu += kernel.jitter * np.mean(np.diag(K_uu)) * np.eye(len(U))
    noise = float(kernel.noise_variance(hyper))
    Psi1, Psi2 = np.zeros((len(Y), len(U))), np.zeros((len(U), len(U)))
    for n, (m_n, v_n) in enumerate(zip(q["Z_mean"].values, q["Z_var"].values, strict=True)):
        points, weights = _gauss_hermite_2d(m_n, v_n)
        k = kernel.cross_np(points, U, hyper)
        Psi1[n] = weights @ k
        Psi2 += (k * weights[:, None]).T @ k
    middle = np.linalg.inv(K_uu + Psi2 / noise)
    return K_uu, K_uu @ middle @ K_uu, K_uu @ middle @ Psi1.T @ Y / noise, noise


def bound_by_quadrature(run, q_u, y, mu, s, order=40):
    """A new row's bound under a variational run, in plain NumPy by quadrature, without psi statistics:
    E over q(z*) of sum_d [log N(y_d | a^T m_d, noise) - a^T S_u a / (2 noise)]
    - D (k** - a^T K_uu a) / (2 noise), a = K_uu^-1 k(U, z*), minus KL(q(z*) || N(0, s^2 I))."""
    kernel, hyper, s2 = run.spec.kernel, run.hyperparameters, run.spec.prior_scale**2
    K_uu, S_u, m, noise = q_u
    points, weights = _gauss_hermite_2d(mu, s, order)
    a = np.linalg.solve(K_uu, kernel.cross_np(hyper["inducing"], points, hyper))  # (M, P)
    D = len(y)
    log_lik = -0.5 * D * np.log(2 * np.pi * noise) - 0.5 * np.sum((y - a.T @ m) ** 2, axis=1) / noise
    spread = np.einsum("mp,mk,kp->p", a, S_u - K_uu, a) + kernel.diag_np(points, hyper)
    kl = 0.5 * np.sum(s / s2 + mu**2 / s2 - 1.0 - np.log(s / s2))
    return weights @ (log_lik - 0.5 * D * spread / noise) - kl


def test_a_variational_runs_new_row_gets_the_q_that_maximises_its_bound(variational_fitted):
    """Each row's bound at its q(z*) equals the quadrature reference, and no mean on a grid (at the
    row's optimal variance) gives a higher reference bound. In q's own frame (R = I)."""
    from gplvm.evaluate.projection import project_variational

    run, raw = variational_fitted
    Y_new = run.to_fitted_units(raw[40:43])
    q = run.tree["variational"]
    mean, variance = q["Z_mean"].values, q["Z_var"].values
    args = (run.hyperparameters, run.training_data(), Y_new, run.spec.prior_scale, np.eye(2))
    projection = project_variational(run.spec.form, mean, variance, *args)
    assert projection.method == "variational" and projection.n_draws == 1 and projection.converged.all()
    q_u = q_u_by_quadrature(run)
    lo, hi = mean.min(axis=0) - 1.0, mean.max(axis=0) + 1.0
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 31), np.linspace(lo[1], hi[1], 31))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    for i, y in enumerate(Y_new):
        s = projection.Z_sd[i] ** 2
        at_optimum = bound_by_quadrature(run, q_u, y, projection.Z[i], s)
        np.testing.assert_allclose(projection.objective[i], at_optimum, rtol=1e-9)
        # A coarser rule on the grid: its error (below 1e-12 here) is far inside the margin.
        on_grid = max(bound_by_quadrature(run, q_u, y, g, s, order=20) for g in grid)
        assert on_grid <= at_optimum + 1e-9 * abs(at_optimum)
    # Through the run: the same q(z*), in the frame of the run's latents.
    through_run = run.project(raw[40:43])
    R = through_run.Z.T @ np.linalg.pinv(projection.Z.T)
    np.testing.assert_allclose(R @ R.T, np.eye(2), atol=1e-6)
