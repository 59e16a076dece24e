"""The sparse GPLVM and the Bayesian GPLVM in ``make bench``: cost per evaluation, scale, and GPy.

- one value + gradient of the sparse bound and of the variational bound (every parameter) at
  growing N, beside the dense rbf likelihood: the bounds must grow linearly in N;
- the sparse rbf MAP on N = 10,000 curve points, whole process: wall time and peak memory;
- side by side with GPy (the optional ``bench`` extra): its ``SparseGPLVM`` and ``BayesianGPLVM``
  against ours on the same data, Q, M, kernel and PCA start; 1-NN error of the latent means and
  wall time. GPy's figure is its optimiser alone, ours the whole ``gplvm`` process.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

M, D, Q_VARIATIONAL = 64, 64, 5


def bench_bound_evaluations(sizes: list[int], dense_n: int, time_call) -> list[dict]:
    """Milliseconds per value + gradient (python backend, the default) for each bound and N."""
    import pytensor
    import pytensor.tensor as pt

    from gplvm.model.forms.dense import Dense
    from gplvm.model.forms.sparse import Sparse
    from gplvm.model.kernels.rbf import RBF
    from gplvm.model.variational_bound import expected_log_likelihood

    kernel = RBF(ard=True, jitter=1e-6)
    form = Sparse(kernel, num_inducing=M)
    Z_in, S_in, U_in, Y_in = pt.matrix("Z"), pt.matrix("S"), pt.matrix("U"), pt.matrix("Y")
    names = ("beta", "variance", "lengthscale")
    hyper_in = {"beta": pt.scalar("beta"), "variance": pt.scalar("variance"), "lengthscale": pt.vector("ell")}
    hyper_in["bias"] = pt.constant(0.0)
    values = {"beta": 10.0, "variance": 1.5, "lengthscale": np.full(Q_VARIATIONAL, 0.8)}
    hyper_args = [hyper_in[n] for n in names]
    graphs = {
        "sparse": (
            [Z_in, U_in, *hyper_args, Y_in],
            form.log_likelihood(Z_in, Y_in, {**hyper_in, "inducing": U_in}),
        ),
        "variational": (
            [Z_in, S_in, U_in, *hyper_args, Y_in],
            expected_log_likelihood(form, Z_in, S_in, Y_in, {**hyper_in, "inducing": U_in}),
        ),
        "dense": ([Z_in, *hyper_args, Y_in], Dense(kernel).log_likelihood(Z_in, Y_in, hyper_in)),
    }
    rng = np.random.default_rng(0)
    U = rng.standard_normal((M, Q_VARIATIONAL))
    rows = []
    for name, (inputs, ll) in graphs.items():
        wrt = inputs[:-1]
        fn = pytensor.function(inputs, [ll, *pytensor.grad(ll, wrt)], mode="FAST_COMPILE")
        for n in [dense_n] if name == "dense" else sizes:
            Z = rng.standard_normal((n, Q_VARIATIONAL))
            Y = rng.standard_normal((n, D))
            args = {
                "sparse": [Z, U],
                "variational": [Z, np.full_like(Z, 0.1), U],
                "dense": [Z],
            }[name] + [*values.values(), Y]
            seconds = time_call(lambda fn=fn, args=args: fn(*args), min_seconds=0.5, max_reps=20)
            rows.append({"bound": name, "n_obs": n, "ms": 1e3 * seconds, "us_per_row": 1e6 * seconds / n})
    return rows


def bench_sparse_large(run_gplvm, n_obs: int = 10_000) -> list[dict]:
    """The sparse rbf MAP on ``n_obs`` curve points (10 features, Q = 2), whole process."""
    overrides = [
        "dataset=curve",
        f"dataset.n_obs={n_obs}",
        "model=rbf",
        "model.likelihood=sparse",
        "plot=false",
    ]
    wall, rss, m = run_gplvm(overrides, None)
    return [
        {
            "n_obs": n_obs,
            "num_inducing": m["num_inducing"],
            "wall_seconds": wall,
            "peak_rss_mib": rss / 1024,
            "iterations": m["iterations"],
            "converged": m["converged"],
            "knn_error": m["knn_error"],
            "pca_knn_error": m["pca_knn_error"],
        }
    ]


def gpy_available() -> bool:
    """Whether GPy (``pip install -e '.[bench]'``) is importable."""
    return importlib.util.find_spec("GPy") is not None


def _gpy_fit(kind: str, Y: np.ndarray, latent_dim: int, max_iters: int) -> dict:
    """GPy's optimiser seconds, latent means, ARD sensitivities and final bound, PCA start."""
    import GPy

    np.random.seed(0)  # noqa: NPY002 (GPy draws its starts from NumPy's global state)
    kernel = GPy.kern.RBF(latent_dim, ARD=True)
    if kind == "SparseGPLVM":
        model = GPy.models.SparseGPLVM(Y, latent_dim, kernel=kernel, num_inducing=M, init="PCA")
    else:
        model = GPy.models.BayesianGPLVM(Y, latent_dim, kernel=kernel, num_inducing=M, init="PCA")
    start = time.perf_counter()
    run = model.optimize(max_iters=max_iters)
    seconds = time.perf_counter() - start
    X = np.asarray(model.X.mean if kind == "BayesianGPLVM" else model.X)
    return {
        "seconds": seconds,
        "evaluations": int(run.funct_eval),
        "X": X,
        "sensitivity": np.asarray(model.kern.input_sensitivity()),
        "bound": float(np.ravel(model.log_likelihood())[0]),
    }


def _breast_cancer_csv(path) -> list[str]:
    """scikit-learn's breast cancer table (569 x 30, two classes) as a CSV; its dataset overrides."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    table = pd.DataFrame(bunch.data, columns=[f"f{i}" for i in range(bunch.data.shape[1])])
    table["diagnosis"] = bunch.target_names[bunch.target]
    table.to_csv(path, index=False)
    return [
        "dataset=file",
        f"dataset.path={path}",
        "dataset.label_column=diagnosis",
        "dataset.standardize=true",
    ]


# Each case: (GPy model, Q, our overrides). Ours on the default (python) backend, to their
# convergence rules (the sparse MAP's bound Op made python as fast as numba there: 3.9 against
# 4.0 ms per evaluation on digits); GPy: its optimize(), which stops after 1,000 evaluations.
CASES = [
    ("SparseGPLVM", 2, ["model=rbf_ard", "model.latent_dim=2", "model.likelihood=sparse"]),
    *(
        ("BayesianGPLVM", q, ["model=rbf_ard", f"model.latent_dim={q}", "inference=variational"])
        for q in (2, 5, 10)
    ),
]


def bench_gpy(run_gplvm, max_obs: int | None, max_iters: int = 1000, workdir=None) -> list[dict]:
    """GPy's SparseGPLVM and BayesianGPLVM against ours, M = 64, RBF-ARD, on digits and breast cancer.

    GPy's time is its optimiser alone; ours the whole ``gplvm`` process. Bounds: GPy's
    ``log_likelihood()``; ours the ELBO (variational) or the collapsed bound at the MAP (sparse),
    both without hyperparameter priors. The models match except that ours puts lognormal priors
    on the hyperparameters (and, for the sparse MAP, N(0, 1) on Z), which pull the optimum.
    """
    import tempfile
    from pathlib import Path

    from gplvm.config import load_config
    from gplvm.data.loading import load_dataset
    from gplvm.evaluate.metrics import nearest_neighbour_error

    workdir = Path(workdir or tempfile.mkdtemp())
    subset = [] if max_obs is None else [f"dataset.max_obs={max_obs}"]
    datasets = {
        "digits": ["dataset=digits", *subset],
        "breast cancer": [*_breast_cancer_csv(workdir / "breast_cancer.csv"), *subset],
    }
    rows = []
    for data_name, data_overrides in datasets.items():
        data = load_dataset(load_config(*data_overrides).dataset)
        for kind, latent_dim, overrides in CASES:
            if data_name != "digits" and latent_dim == 10:
                continue  # breast cancer: Q = 2 and 5 suffice
            gpy = _gpy_fit(kind, data.Y, latent_dim, max_iters)
            top = np.argsort(-gpy["sensitivity"])[:2]
            ours = [*data_overrides, f"model.num_inducing={M}", *overrides, "plot=false"]
            wall, _, m = run_gplvm(ours, None)
            ours_bound = m["elbo"] if m.get("elbo") is not None else m["log_likelihood"]
            rows.append(
                {
                    "data": data_name,
                    "model": kind,
                    "n_obs": data.n_obs,
                    "Q": latent_dim,
                    "gpy_optimiser_s": gpy["seconds"],
                    "ours_whole_process_s": wall,
                    "gpy_over_ours": gpy["seconds"] / wall,
                    # Per step, whole process against optimiser: ours counts start-up too, and
                    # its iterations (about 1.1 evaluations each) against GPy's evaluations.
                    "per_step_ratio": (gpy["seconds"] / gpy["evaluations"]) / (wall / m["iterations"]),
                    "gpy_evaluations": gpy["evaluations"],
                    "ours_iterations": m["iterations"],
                    "ours_convergence": m["convergence"],
                    "gpy_bound": gpy["bound"],
                    "ours_bound": ours_bound,
                    "gpy_knn": nearest_neighbour_error(gpy["X"], data.labels),
                    "ours_knn": m["knn_error"],
                    "gpy_knn_top2": nearest_neighbour_error(gpy["X"][:, top], data.labels),
                    "ours_knn_top2": m["knn_error_relevant"]
                    if m["knn_error_relevant"] is not None
                    else m["knn_error"],
                }
            )
    return rows


def gemm_gflops(n: int = 1000) -> float:
    """This machine's single-thread float64 GEMM rate (BLAS limited to one thread by make bench)."""
    a, b = np.random.default_rng(0).standard_normal((2, n, n))
    a @ b
    start = time.perf_counter()
    for _ in range(3):
        a @ b
    return 3 * 2 * n**3 / (time.perf_counter() - start) / 1e9


def bound_floor_ms(n_obs: int, n_inducing: int, n_features: int, latent_dim: int, gflops: float) -> float:
    """A floor for one value + gradient of the variational bound: its matrix products' flops at
    the GEMM rate, the gradient counted as twice the value (reverse mode's usual cost).

    Value: Psi1 (2 N M Q for the distances, the rest N M), Psi2's coupling 2 N M^2 Q, Psi1^T Y
    2 N M D, and the M x M algebra (Cholesky factors, solves, products: about 4 M^3 + 4 M^2 D).
    The N M^2 exponentials of Psi2 are left out, so the floor is generous to us.
    """
    N, M, D, Q = n_obs, n_inducing, n_features, latent_dim
    value = 2 * N * M * Q + 2 * N * M**2 * Q + 2 * N * M * D + 4 * M**3 + 4 * M**2 * D
    return 1e3 * 3 * value / (gflops * 1e9)


def bench_bound_floor(time_call) -> list[dict]:
    """Our value + gradient of the Bayesian GPLVM's bound on digits' shape against its flop floor."""
    import pytensor
    import pytensor.tensor as pt

    from gplvm.model.forms.sparse import Sparse
    from gplvm.model.kernels.rbf import RBF
    from gplvm.model.variational_bound import expected_log_likelihood

    gflops = gemm_gflops()
    rows = []
    rng = np.random.default_rng(0)
    n_obs = 1797
    for latent_dim in (2, 5, 10):
        form = Sparse(RBF(ard=True, jitter=1e-6), num_inducing=M)
        Z_in, S_in, U_in, Y_in = pt.matrix("Z"), pt.matrix("S"), pt.matrix("U"), pt.matrix("Y")
        ell, beta, var = pt.vector("ell"), pt.scalar("beta"), pt.scalar("variance")
        hyper = {
            "beta": beta,
            "variance": var,
            "lengthscale": ell,
            "bias": pt.constant(0.0),
            "inducing": U_in,
        }
        ll = expected_log_likelihood(form, Z_in, S_in, Y_in, hyper)
        wrt = [Z_in, S_in, U_in, beta, var, ell]
        fn = pytensor.function([*wrt, Y_in], [ll, *pytensor.grad(ll, wrt)], mode="FAST_COMPILE")
        args = [
            rng.standard_normal((n_obs, latent_dim)),
            np.full((n_obs, latent_dim), 0.1),
            rng.standard_normal((M, latent_dim)),
            10.0,
            1.5,
            np.full(latent_dim, 0.8),
            rng.standard_normal((n_obs, D)),
        ]
        ms = 1e3 * time_call(lambda fn=fn, args=args: fn(*args), min_seconds=1.0, max_reps=30)
        floor = bound_floor_ms(n_obs, M, D, latent_dim, gflops)
        rows.append(
            {
                "N": n_obs,
                "M": M,
                "D": D,
                "Q": latent_dim,
                "ours_ms": ms,
                "floor_ms": floor,
                "over_floor": ms / floor,
                "gemm_gflops": gflops,
            }
        )
    return rows


def bench_dense_crossover(run_gplvm, sizes: tuple[int, ...] = (500, 1000)) -> list[dict]:
    """``model=rbf`` on the first N digits, sparse against dense (started from the sparse MAP),
    whole process: where ``model.likelihood=auto`` switches (dense up to 1,000 rows)."""
    rows = []
    for n_obs in sizes:
        for likelihood in ("sparse", "dense"):
            overrides = [
                "dataset=digits",
                f"dataset.max_obs={n_obs}",
                "model=rbf",
                f"model.likelihood={likelihood}",
            ]
            wall, _, m = run_gplvm([*overrides, "plot=false"], None)
            start = m.get("sparse_start") or {}
            rows.append(
                {
                    "n_obs": n_obs,
                    "likelihood": likelihood,
                    "whole_process_s": wall,
                    "iterations": m["iterations"],
                    "sparse_start_iterations": start.get("iterations"),
                    "converged": m["converged"],
                    "knn_error": m["knn_error"],
                }
            )
    return rows
