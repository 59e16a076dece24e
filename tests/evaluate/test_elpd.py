"""Model comparison over features: the log_likelihood group, PSIS-LOO, K-fold and ``gplvm-compare``.

References: SciPy's multivariate normal density of each column under each draw's K, the
closed-form linear optimum (K-fold's held-out columns scored under it with SciPy), ArviZ's own
``loo`` on the stored group, and the CLI's one-line errors.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy.stats import multivariate_normal

from gplvm.data.dataset import Dataset
from gplvm.evaluate import elpd
from gplvm.evaluate.diagnostics import column_log_likelihoods
from gplvm.model.forms.dense import Dense
from gplvm.model.forms.sparse import Sparse
from gplvm.model.forms.woodbury import Woodbury
from gplvm.model.kernels.linear import Linear
from gplvm.model.kernels.matern52 import Matern52
from gplvm.model.kernels.rbf import RBF
from gplvm.model.spec import ModelSpec
from tests.helpers import random_problem

FORMS = {
    "woodbury": (Woodbury(Linear()), {}),
    "dense_linear": (Dense(Linear()), {}),
    "dense_matern52": (Dense(Matern52(jitter=1e-8)), {"variance": 1.2, "lengthscale": 0.9, "bias": 0.1}),
    "dense_rbf": (Dense(RBF(jitter=1e-8)), {"variance": 1.2, "lengthscale": 0.9, "bias": 0.1}),
    "sparse_rbf": (
        Sparse(RBF(jitter=1e-8), num_inducing=4),
        {"variance": 1.2, "lengthscale": 0.9, "bias": 0.1},
    ),
}


def fake_posterior(n_obs: int, latent_dim: int, form, extra: dict) -> xr.Dataset:
    """Two chains x three draws of Z and a learned beta (and the sparse form's inducing inputs)."""
    rng = np.random.default_rng(0)
    data = {
        "Z": (("chain", "draw", "obs", "latent_dim"), rng.standard_normal((2, 3, n_obs, latent_dim))),
        "beta": (("chain", "draw"), rng.uniform(2.0, 4.0, (2, 3))),
    }
    if form.parameters:
        data["inducing"] = (
            ("chain", "draw", "inducing_point", "latent_dim"),
            rng.standard_normal((2, 3, 4, 2)),
        )
    return xr.Dataset(data)


def spec_for(form, extra: dict) -> ModelSpec:
    configured = {"beta": 3.0, **extra}
    return ModelSpec(
        kernel=form.kernel,
        form=form,
        latent_dim=2,
        prior_scale=1.0,
        configured=configured,
        learned=("beta",),
        priors={"beta": None},
    )


@pytest.mark.parametrize("name", sorted(FORMS))
def test_per_feature_log_likelihoods_are_each_columns_density_under_each_draw(name):
    form, extra = FORMS[name]
    _, Y = random_problem(9, 4, 2, seed=1)
    data = Dataset("test", Y, [f"f{j}" for j in range(4)])
    posterior = fake_posterior(9, 2, form, extra)
    spec = spec_for(form, extra)
    columns = column_log_likelihoods(posterior, data, spec)
    assert columns.shape == (2, 3, 4)
    for (c, d), hyper in zip(np.ndindex(2, 3), spec.per_draw(posterior), strict=True):
        Z = posterior["Z"].values[c, d]
        if isinstance(form, Sparse):  # the bound's share of each column
            expected = form.column_log_likelihoods(Z, Y, hyper)
        else:
            K = form.kernel.K_np(Z, hyper)
            expected = [multivariate_normal(cov=K).logpdf(y) for y in Y.T]
        np.testing.assert_allclose(columns[c, d], expected, rtol=1e-10)
        np.testing.assert_allclose(columns[c, d].sum(), spec.log_likelihood(Z, Y, hyper), rtol=1e-12)


def test_a_nuts_run_has_the_log_likelihood_group_and_loo_in_its_record(nuts_run):
    """With 8 features some Pareto k are always high: 3 to 5 of 8 over seeds 0-9."""
    import arviz as az

    tree = nuts_run.idata
    group = tree["log_likelihood"]["Y"]
    assert group.dims == ("chain", "draw", "feature")
    np.testing.assert_allclose(
        group.sum("feature").values, tree.posterior["log_likelihood"].values, rtol=1e-12
    )
    m = nuts_run.record
    with pytest.warns(UserWarning):  # ArviZ's own warning: 8 features are too few for good k
        expected = az.loo(tree, var_name="Y", pointwise=True)
    assert m.elpd_loo == pytest.approx(expected.elpd) and m.elpd_loo_se == pytest.approx(expected.se)
    assert m.n_pareto_k_bad == int(np.sum(expected.pareto_k.values > expected.good_k)) > 0
    assert "use K-fold over features instead" in m.loo_warning


def test_fold_assignment_is_seeded_and_balanced():
    fold = elpd.fold_of_each_feature(10, 3, seed=4)
    assert sorted(np.bincount(fold)) == [3, 3, 4]
    np.testing.assert_array_equal(fold, elpd.fold_of_each_feature(10, 3, seed=4))
    assert not np.array_equal(fold, elpd.fold_of_each_feature(10, 3, seed=5))


def test_kfold_with_the_linear_map_scores_each_held_out_column_under_the_analytic_optimum():
    """Each fold's MAP is the closed-form optimum of its training columns; the held-out columns'
    scores are SciPy's Gaussian densities under that K (rotation-free)."""
    from gplvm.config import load_config
    from gplvm.data.loading import load_dataset
    from gplvm.inference import method_for
    from gplvm.model.analytic import analytic_optimum

    cfg = load_config("dataset=synthetic", "dataset.n_obs=30", "dataset.n_features=6", "plot=false")
    data, spec = load_dataset(cfg.dataset), ModelSpec.from_config(cfg.model)
    result, fold = elpd.kfold(data, spec, method_for(cfg.inference), cfg.seed, folds=3, fold_seed=1)
    beta = cfg.model.beta
    for k in range(3):
        train = data.Y[:, fold != k]
        Z = analytic_optimum(train, spec.latent_dim, beta, spec.prior_scale).Z
        K = Z @ Z.T + np.eye(len(Z)) / beta
        for j in np.flatnonzero(fold == k):
            expected = multivariate_normal(cov=K).logpdf(data.Y[:, j])
            assert result.elpd_i.values[j] == pytest.approx(expected, rel=1e-6)
    assert result.elpd == pytest.approx(result.elpd_i.values.sum())
    assert result.se == pytest.approx(np.sqrt(6 * np.var(result.elpd_i.values)))


# ---------------------------------------------------------------- gplvm-compare


@pytest.fixture(scope="module")
def map_runs(tmp_path_factory):
    """Two MAP runs of the same data (Q = 1, 2; the second with K-fold) and one of other data."""
    from gplvm.config import load_config
    from gplvm.run.pipeline import fit_experiment, save_experiment

    root = tmp_path_factory.mktemp("compare")
    data = ["dataset=synthetic", "dataset.n_obs=30", "dataset.n_features=6", "plot=false"]
    for name, extra in {
        "q1": ["model.latent_dim=1"],
        "q2_kfold": ["model.latent_dim=2", "kfold.folds=3"],
        "other": ["dataset.seed=7"],
    }.items():
        save_experiment(fit_experiment(load_config(*data, *extra)), root / name, plot=False)
    return root


def run_compare(capsys, *args):
    from gplvm.cli.compare import main

    code = main([str(a) for a in args])
    return code, capsys.readouterr()


def test_compare_refuses_a_map_run_without_kfold(map_runs, capsys):
    code, out = run_compare(capsys, map_runs / "q1", map_runs / "q2_kfold")
    assert code == 2
    assert out.err.strip().count("\n") == 0
    assert "a point estimate without K-fold results has no elpd" in out.err and "--kfold 6" in out.err


def test_compare_refuses_runs_of_different_data(map_runs, capsys):
    code, out = run_compare(capsys, map_runs / "q2_kfold", map_runs / "other")
    assert code == 2 and "were fitted to different data" in out.err and out.err.strip().count("\n") == 0


def test_compare_refuses_a_missing_path(map_runs, capsys):
    code, out = run_compare(capsys, map_runs / "q1", map_runs / "nowhere")
    assert code == 2 and "no such directory" in out.err


def test_compare_with_kfold_ranks_runs_and_writes_its_files(map_runs, tmp_path, capsys):
    code, out = run_compare(capsys, map_runs / "q1", map_runs / "q2_kfold", "--kfold", "3", "--out", tmp_path)
    assert code == 0, out.err
    import pandas as pd

    table = pd.read_csv(tmp_path / "compare.csv", index_col="model")
    sources = table["elpd_from"].to_dict()
    # The run fitted with kfold.folds=3 has those very folds (same seed): reused, not refitted.
    # Runs are named by the settings that differ, and by how their elpd was estimated.
    assert sources == {
        "model.latent_dim=1 kfold.folds=0 [3-fold]": "3-fold (refitted now)",
        "model.latent_dim=2 kfold.folds=3 [3-fold]": "3-fold (from the run)",
    }
    assert (tmp_path / "compare.md").read_text().startswith("| model |")
    assert (tmp_path / "compare.png").stat().st_size > 0


def test_compare_refits_as_the_pipeline_does(map_runs):
    """K-fold refitted by gplvm-compare from a run directory equals the run's own kfold.folds result."""
    import gplvm
    from gplvm.run.refit import kfold_now

    metrics = json.loads((map_runs / "q2_kfold" / "metrics.json").read_text())
    refitted = kfold_now(gplvm.load_run(map_runs / "q2_kfold"), folds=3, seed=0)
    assert refitted.elpd == pytest.approx(metrics["elpd_kfold"], rel=1e-9)
    assert refitted.p == pytest.approx(metrics["p_kfold"], rel=1e-9)


# ---------------------------------------------------------------- choosing Q (slow: 20+ NUTS fits)


def q_scan(n_features: int, folds_for: tuple[int, ...]) -> dict:
    """NUTS fits (2 x 500 draws, beta learned) of data drawn with Q = 3, N = 100, for Q = 1..5;
    K-fold (K = 5) for the Q in ``folds_for``. Returns {Q: record}."""
    from gplvm.config import load_config
    from gplvm.run.pipeline import fit_experiment

    base = [
        "dataset=synthetic",
        "dataset.n_obs=100",
        f"dataset.n_features={n_features}",
        "dataset.latent_dim=3",
        "model.learn.beta=true",
        "inference=nuts",
        "inference.draws=500",
        "inference.tune=500",
        "inference.progressbar=false",
        "plot=false",
    ]
    records = {}
    for q in range(1, 6):
        folds = ["kfold.folds=5"] if q in folds_for else []
        records[q] = fit_experiment(load_config(*base, f"model.latent_dim={q}", *folds)).record
    return records


@pytest.mark.slow
def test_on_wide_data_loo_peaks_at_the_true_q_with_good_k_and_kfold_agrees():
    records = q_scan(400, folds_for=(2, 3, 4))
    loo = {q: m.elpd_loo for q, m in records.items()}
    assert max(loo, key=loo.get) == 3, loo
    best = records[3]
    assert best.n_pareto_k_bad <= 0.02 * 400  # measured: 3 of 400
    assert abs(best.elpd_loo - best.elpd_kfold) < best.elpd_loo_se + best.elpd_kfold_se
    kfold = {q: records[q].elpd_kfold for q in (2, 3, 4)}
    assert max(kfold, key=kfold.get) == 3, kfold


@pytest.mark.slow
def test_on_narrow_data_high_k_is_reported_and_kfold_still_finds_the_true_q():
    records = q_scan(40, folds_for=(2, 3, 4))
    assert all(records[q].n_pareto_k_bad > 0 and records[q].loo_warning for q in (2, 3, 4))
    kfold = {q: records[q].elpd_kfold for q in (2, 3, 4)}
    assert max(kfold, key=kfold.get) == 3, kfold


def test_compare_in_a_map_only_sweep_without_kfold_says_what_to_do(tmp_path, capsys):
    from gplvm.config import load_config
    from gplvm.run.pipeline import fit_experiment, save_experiment

    for job in ("0", "1"):
        save_experiment(fit_experiment(load_config("dataset=iris", "plot=false")), tmp_path / job, plot=False)
        (tmp_path / job / ".hydra").mkdir()
        (tmp_path / job / ".hydra" / "overrides.yaml").write_text(f"- seed={job}\n")
    code, out = run_compare(capsys, tmp_path)
    assert code == 2 and out.err.strip().count("\n") == 0
    assert "0 of 2 completed jobs have draws or K-fold results" in out.err and "--kfold 4" in out.err


def test_stacking_weights_match_arviz_where_it_is_accurate_and_survive_large_log_densities():
    import arviz as az
    from arviz_stats.utils import ELPDData

    rng = np.random.default_rng(2)
    pointwise = rng.normal(-1.0, 0.7, size=(3, 50)) + np.array([[0.0], [0.2], [-0.3]])
    results = {
        f"m{k}": ELPDData(
            elpd=float(row.sum()),
            se=1.0,
            p=1.0,
            n_samples=100,
            n_data_points=50,
            scale="log",
            warning=False,
            good_k=0.7,
            elpd_i=xr.DataArray(row, dims="feature"),
        )
        for k, row in enumerate(pointwise)
    }
    expected = az.compare(results, round_to="none")["weight"].reindex(list(results)).values
    weights = elpd.stacking_weights(pointwise)
    np.testing.assert_allclose(weights, expected, atol=2e-4)
    # Shifting every model's elpd_d alike leaves the weights alone, even into exp's underflow.
    np.testing.assert_allclose(elpd.stacking_weights(pointwise - 5000.0), weights, atol=1e-10)
