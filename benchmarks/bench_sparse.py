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


def _gpy_fit(
    kind: str, Y: np.ndarray, latent_dim: int, max_iters: int
) -> tuple[float, np.ndarray, np.ndarray]:
    """Optimiser seconds, latent means and ARD sensitivities of a GPy model with a PCA start."""
    import GPy

    np.random.seed(0)  # noqa: NPY002 (GPy draws its starts from NumPy's global state)
    kernel = GPy.kern.RBF(latent_dim, ARD=True)
    if kind == "SparseGPLVM":
        model = GPy.models.SparseGPLVM(Y, latent_dim, kernel=kernel, num_inducing=M, init="PCA")
    else:
        model = GPy.models.BayesianGPLVM(Y, latent_dim, kernel=kernel, num_inducing=M, init="PCA")
    start = time.perf_counter()
    model.optimize(max_iters=max_iters)
    seconds = time.perf_counter() - start
    X = np.asarray(model.X.mean if kind == "BayesianGPLVM" else model.X)
    return seconds, X, np.asarray(model.kern.input_sensitivity())


def bench_gpy(run_gplvm, max_obs: int | None, max_iters: int = 1000) -> list[dict]:
    """GPy's SparseGPLVM (Q = 2) and BayesianGPLVM (Q = 5) against ours on digits, M = 64, RBF-ARD."""
    from gplvm.config import load_config
    from gplvm.data.loading import load_dataset
    from gplvm.evaluate.metrics import nearest_neighbour_error

    subset = [] if max_obs is None else [f"dataset.max_obs={max_obs}"]
    data = load_dataset(load_config("dataset=digits", *subset).dataset)
    # Both sides run max_iters L-BFGS iterations. The sparse MAP's graph is small and cheap, so it
    # runs on numba (4 ms against 12 ms per evaluation on digits); its compile cache is warmed first.
    sparse = ["model=rbf_ard", "model.latent_dim=2", "model.likelihood=sparse", "inference.backend=numba"]
    variational = ["model=rbf_ard", f"model.latent_dim={Q_VARIATIONAL}", "inference=variational"]
    cases = {"SparseGPLVM": (2, sparse), "BayesianGPLVM": (Q_VARIATIONAL, variational)}
    rows = []
    for kind, (latent_dim, overrides) in cases.items():
        gpy_seconds, X, sensitivity = _gpy_fit(kind, data.Y, latent_dim, max_iters)
        top = np.argsort(-sensitivity)[:2]
        ours = ["dataset=digits", *subset, f"model.num_inducing={M}", f"inference.maxiter={max_iters}"]
        ours += [*overrides, "plot=false"]
        if "inference.backend=numba" in overrides:
            run_gplvm([*ours, "inference.maxiter=5"], None)  # warm numba's compile cache
        wall, _, m = run_gplvm(ours, None)
        rows.append(
            {
                "model": kind,
                "n_obs": data.n_obs,
                "Q": latent_dim,
                "gpy_optimiser_s": gpy_seconds,
                "ours_whole_process_s": wall,
                "gpy_over_ours": gpy_seconds / wall,
                "gpy_knn": nearest_neighbour_error(X, data.labels),
                "ours_knn": m["knn_error"],
                "gpy_knn_top2": nearest_neighbour_error(X[:, top], data.labels),
                "ours_knn_top2": m["knn_error_relevant"]
                if m["knn_error_relevant"] is not None
                else m["knn_error"],
                "ours_iterations": m["iterations"],
                "ours_converged": m["converged"],
            }
        )
    return rows
