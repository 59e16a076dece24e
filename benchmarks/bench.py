"""``make bench``: side-by-side measurements on this machine, printed as Markdown and saved as JSON.

Every comparison is measured in the same run, so the ratios hold for this machine and load:

1. one value-and-gradient evaluation of eq. 1 (eq. 4 for the gradient): woodbury against dense
   against NumPy, for each N and each PyTensor backend (numba, c, python; jax if installed);
2. a MAP fit on digits under each backend: compile and optimiser seconds, iterations, the gap to
   the analytic optimum, and the analytic solution's own time;
3. the whole ``gplvm dataset=digits inference=map`` process, with empty and with warm compile caches,
   and warm against ``python -c "import pymc"`` (what gplvm adds to PyMC's own start-up);
4. NUTS on small synthetic data: ESS per second of the rotation invariants, nutpie against PyMC;
5. the linear MAP at N = 100,000 and 1,000,000 end to end: wall time, peak memory, run-directory
   size, and the optimiser's time against the analytic solution's;
6. the rbf kernel: one value-and-gradient evaluation (Z and every hyperparameter) of the dense
   likelihood, PyTensor's automatic gradient against eq. 3 chained through dK/dtheta in NumPy;
   and linear against rbf MAP fits on the curve dataset;
7. the sparse and variational bounds (``bench_sparse.py``): per evaluation at N = 1,000 to 16,000,
   the sparse rbf MAP at N = 10,000, and GPy's SparseGPLVM and BayesianGPLVM beside ours on digits
   (when the ``bench`` extra, GPy, is installed);
8. missing cells (``bench_missing.py``): one value + gradient of each form with 20% of digits-sized
   data missing, against the same data complete;
9. projection (``bench_projection.py``): ``gplvm-project`` as a whole process, 50 rows into a
   Bayesian GPLVM (Q = 10) and 10,000 rows into a sparse MAP (Q = 2) on digits;
10. the dense rbf MAP from a sparse start against the sparse MAP at N = 500 and 1,000, and the
    variational bound's per-evaluation time against its flop floor (``bench_sparse.py``).

Usage: ``python benchmarks/bench.py [--quick] [--only NAME,...] [--out DIR]`` (``make bench``).
``--quick`` drops the slowest cases; ``--only`` runs the named sections (the JSON keys, such as
``gpy,projection``). It lives outside the package: the wheel does not ship it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from gplvm.run import markdown

D, Q = 64, 2


def time_call(fn: Callable[[], object], min_seconds: float = 0.3, max_reps: int = 200) -> float:
    """Median seconds per call over enough repetitions to fill ``min_seconds`` (at least 1)."""
    fn()  # warm-up: first calls load caches
    times: list[float] = []
    while not times or (len(times) < max_reps and sum(times) < min_seconds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def backends() -> list[str]:
    """PyTensor backends to compare: numba, c and python, plus jax when it is installed."""
    found = ["numba", "c", "python"]
    return [*found, "jax"] if importlib.util.find_spec("jax") else found


def _mode(backend: str):
    from pytensor.compile.mode import get_mode

    return get_mode({"python": "FAST_COMPILE", "c": "CVM"}.get(backend, backend.upper()))


def bench_evaluations(sizes: list[int], dense_max: int, backend_list: list[str]) -> list[dict]:
    """Seconds per value-and-gradient evaluation, per backend, likelihood form and N."""
    import pytensor
    import pytensor.tensor as pt

    from gplvm.model import reference
    from gplvm.model.forms import FORMS
    from gplvm.model.kernels.linear import Linear

    Z_in, Y_in, beta_in, yy_in = pt.matrix("Z"), pt.matrix("Y"), pt.scalar("beta"), pt.scalar("yy")
    rng = np.random.default_rng(0)
    problems = {n: (rng.standard_normal((n, Q)), rng.standard_normal((n, D))) for n in sizes}
    rows = []
    numpy_woodbury = FORMS["woodbury"](Linear())
    for n, (Z, Y) in problems.items():
        t = time_call(
            lambda Z=Z, Y=Y: (
                numpy_woodbury.log_likelihood_np(Z, Y, {"beta": 2.0}),
                reference.grad_Z(Z, Y, 2.0),
            )
        )
        rows.append(
            {"backend": "numpy", "form": "woodbury", "n_obs": n, "seconds": t, "compile_seconds": 0.0}
        )
    for backend in backend_list:
        for form, cls in FORMS.items():
            if cls.parameter_dims:  # the sparse bound has its own section (bench_sparse.py)
                continue
            ll = cls(Linear()).log_likelihood(Z_in, Y_in, {"beta": beta_in}, yy_in)
            start = time.perf_counter()
            fn = pytensor.function(
                [Z_in, Y_in, beta_in, yy_in],
                [ll, pytensor.grad(ll, Z_in)],
                mode=_mode(backend),
                on_unused_input="ignore",  # dense does not need ||Y||^2
            )
            Z, Y = problems[sizes[0]]
            fn(Z, Y, 2.0, float(np.sum(Y**2)))  # numba compiles on the first call
            compile_seconds = time.perf_counter() - start
            for n, (Z, Y) in problems.items():
                if form == "dense" and n > dense_max:
                    continue
                yy = float(np.sum(Y**2))
                slow = form == "dense" and n >= 5000
                call = lambda fn=fn, Z=Z, Y=Y, yy=yy: fn(Z, Y, 2.0, yy)  # noqa: E731
                t = time_call(call, min_seconds=0.0 if slow else 0.3)
                rows.append(
                    {
                        "backend": backend,
                        "form": form,
                        "n_obs": n,
                        "seconds": t,
                        "compile_seconds": compile_seconds,
                    }
                )
    return rows


def _config(*overrides: str):
    from gplvm.config import load_config

    return load_config(*overrides)


def bench_map_digits(backend_list: list[str]) -> list[dict]:
    """The default digits MAP under each backend, against the analytic solution's own time."""
    from gplvm.data.loading import load_dataset
    from gplvm.model.analytic import analytic_optimum
    from gplvm.run.pipeline import fit_experiment

    rows = []
    for backend in backend_list:
        if backend == "jax":
            continue
        cfg = _config(f"inference.backend={backend}")
        m = fit_experiment(cfg).metrics
        data = load_dataset(cfg.dataset)
        mc = cfg.model
        args = (data.Y, mc.latent_dim, mc.beta, mc.prior_scale)
        analytic = time_call(lambda args=args: analytic_optimum(*args))
        rows.append(
            {
                "backend": backend,
                "compile_seconds": m["compile_seconds"],
                "optimiser_seconds": m["fit_seconds"],
                "iterations": m["iterations"],
                "analytic_gap_relative": m["analytic_gap_relative"],
                "gram_rel_error": m["gram_rel_error"],
                "analytic_seconds": analytic,
                "optimiser_over_analytic": m["fit_seconds"] / analytic,
            }
        )
    return rows


def _run_gplvm(
    overrides: list[str], compiledir: str | None, sizes: dict | None = None, keep_dir: Path | None = None
) -> tuple[float, int, dict]:
    """Wall seconds, peak RSS (KiB) and metrics of one ``gplvm`` process.

    ``sizes``, when given, receives the run directory's size in bytes under ``run_dir_bytes``;
    ``keep_dir``, when given, is the run directory (else a temporary one).
    """
    with tempfile.TemporaryDirectory() as scratch:
        tmp = str(keep_dir) if keep_dir is not None else scratch
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        if compiledir is not None:
            env["PYTENSOR_FLAGS"] = f"base_compiledir={compiledir}"
        probe = (
            "import resource, subprocess, sys, time; t = time.perf_counter();"
            "r = subprocess.run(sys.argv[1:], capture_output=True);"
            "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
            "print(time.perf_counter() - t, r.returncode, rss)"
        )
        cmd = [sys.executable, "-m", "gplvm", f"hydra.run.dir={tmp}", *overrides]
        out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, env=env)
        wall, code, rss = out.stdout.split()
        if int(code) != 0:
            raise RuntimeError(f"gplvm {' '.join(overrides)} failed")
        if sizes is not None:
            sizes["run_dir_bytes"] = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        return float(wall), int(rss), json.loads((Path(tmp) / "metrics.json").read_text())


def bench_process(backend_list: list[str]) -> list[dict]:
    """Whole-process wall time of the default digits MAP, with empty and with warm caches."""
    rows = []
    for backend in [b for b in backend_list if b != "jax"]:
        with tempfile.TemporaryDirectory() as cache:
            for phase in ("cold", "warm"):
                wall, _, m = _run_gplvm(
                    ["dataset=digits", "inference=map", f"inference.backend={backend}"], cache
                )
                rows.append(
                    {
                        "backend": backend,
                        "cache": phase,
                        "wall_seconds": wall,
                        "compile_seconds": m["compile_seconds"],
                    }
                )
    return rows


def _wall(cmd: list[str]) -> float:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, env=env, check=True)
    return time.perf_counter() - start


def bench_startup(repeats: int) -> list[dict]:
    """Whole warm ``gplvm dataset=digits`` processes against ``python -c "import pymc"``, interleaved.

    Medians over ``repeats`` rounds; each round runs every command once, so load on the machine
    affects them alike. The difference is what gplvm adds to PyMC's own start-up.
    """
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "python -c 'import pymc'": [sys.executable, "-c", "import pymc"],
            "gplvm dataset=digits": [
                sys.executable,
                "-m",
                "gplvm",
                "dataset=digits",
                f"hydra.run.dir={tmp}/a",
            ],
            "gplvm dataset=digits plot=false": [
                sys.executable,
                "-m",
                "gplvm",
                "dataset=digits",
                "plot=false",
                f"hydra.run.dir={tmp}/b",
            ],
        }
        for cmd in commands.values():
            _wall(cmd)  # warm the caches
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeats):
            for name, cmd in commands.items():
                walls[name].append(_wall(cmd))
    base = float(np.median(walls["python -c 'import pymc'"]))
    return [
        {
            "command": name,
            "median_seconds": float(np.median(w)),
            "over_import_pymc": float(np.median(w)) - base,
        }
        for name, w in walls.items()
    ]


def bench_nuts(draws: int) -> list[dict]:
    """ESS per second of the rotation invariants on small synthetic data, nutpie against PyMC."""
    from gplvm.run.pipeline import fit_experiment

    rows = []
    for sampler in ("nutpie", "pymc"):
        data = ["dataset=synthetic", "dataset.n_obs=100", "dataset.n_features=10"]
        nuts = [
            "inference=nuts",
            f"inference.sampler={sampler}",
            "inference.chains=2",
            "inference.progressbar=false",
        ]
        cfg = _config(*data, *nuts, f"inference.draws={draws}", f"inference.tune={draws}")
        m = fit_experiment(cfg).metrics
        ess = min(m["ess_bulk_min_invariants"], m["ess_tail_min_invariants"])
        rows.append(
            {
                "sampler": sampler,
                "compile_seconds": m["compile_seconds"],
                "sampling_seconds": m["fit_seconds"],
                "ess_min_invariants": ess,
                "ess_per_second": ess / m["fit_seconds"],
                "rhat_max_invariants": m["rhat_max_invariants"],
                "divergences": m["divergences"],
            }
        )
    return rows


def bench_rbf_evaluations(sizes: list[int], backend_list: list[str]) -> list[dict]:
    """Dense rbf log-likelihood and its gradients: PyTensor per backend against NumPy's eq. 3."""
    import pytensor
    import pytensor.tensor as pt
    from scipy.linalg import cho_factor, cho_solve

    from gplvm.model.forms.dense import Dense
    from gplvm.model.kernels.rbf import RBF

    # The tests' NumPy derivatives of the kernels, chained with eq. 3 (the repository's root is
    # where `make bench` runs).
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.model.derivatives import grad_hyper, grad_Z

    Z_in, Y_in = pt.matrix("Z"), pt.matrix("Y")
    names = ("beta", "variance", "lengthscale")
    hyper_in = {n: pt.scalar(n) for n in names} | {"bias": pt.constant(0.0)}
    kernel = RBF(jitter=1e-6)
    ll = Dense(kernel).log_likelihood(Z_in, Y_in, hyper_in)
    inputs = [Z_in, *(hyper_in[n] for n in names)]
    values = {"beta": 10.0, "variance": 1.5, "lengthscale": 0.8}
    rng = np.random.default_rng(0)
    problems = {n: (rng.standard_normal((n, Q)), rng.standard_normal((n, D))) for n in sizes}

    def numpy_eq3(Z: np.ndarray, Y: np.ndarray) -> tuple:
        hyper = {**values, "bias": 0.0}
        K = kernel.K_np(Z, hyper)
        factor = cho_factor(K, lower=True)
        alpha = cho_solve(factor, Y)
        K_inv = cho_solve(factor, np.eye(len(K)))
        G = 0.5 * (alpha @ alpha.T - Y.shape[1] * K_inv)  # eq. 3
        value = -Y.shape[1] * np.sum(np.log(np.diag(factor[0]))) - 0.5 * np.sum(alpha * Y)
        return value, grad_Z(kernel, G, Z, hyper), grad_hyper(kernel, G, Z, hyper)

    rows = []
    for n, (Z, Y) in problems.items():
        rows.append(
            {"backend": "numpy eq. 3", "n_obs": n, "ms": 1e3 * time_call(lambda Z=Z, Y=Y: numpy_eq3(Z, Y))}
        )
    for backend in backend_list:
        start = time.perf_counter()
        fn = pytensor.function([*inputs, Y_in], [ll, *pytensor.grad(ll, inputs)], mode=_mode(backend))
        Z, Y = problems[sizes[0]]
        fn(Z, *values.values(), Y)
        compile_seconds = time.perf_counter() - start
        for n, (Z, Y) in problems.items():
            t = time_call(lambda fn=fn, Z=Z, Y=Y: fn(Z, *values.values(), Y))
            rows.append({"backend": backend, "n_obs": n, "ms": 1e3 * t, "compile_s": compile_seconds})
    reference = {r["n_obs"]: r["ms"] for r in rows if r["backend"] == "numpy eq. 3"}
    for r in rows:
        r["over_numpy_eq3"] = r["ms"] / reference[r["n_obs"]]
        r.setdefault("compile_s", 0.0)
    return rows


def bench_curve_maps() -> list[dict]:
    """Linear and rbf MAP on the curve dataset (Q = 1): fit time and the 1-NN error they buy."""
    from gplvm.run.pipeline import fit_experiment

    rows = []
    for model in ("linear", "rbf"):
        m = fit_experiment(
            _config("dataset=curve", f"model={model}", "model.latent_dim=1", "plot=false")
        ).metrics
        rows.append(
            {
                "model": model,
                "compile_seconds": m["compile_seconds"],
                "optimiser_seconds": m["fit_seconds"],
                "iterations": m["iterations"],
                "converged": m["converged"],
                "knn_error": m["knn_error"],
                "pca_knn_error": m["pca_knn_error"],
                "beta": m["beta"],
            }
        )
    return rows


def bench_large(sizes: list[int]) -> list[dict]:
    """Linear MAPs on .npy files of N x 64 drawn from the model, each a whole ``gplvm`` process.

    Wall time, peak resident memory (the largest process), the run directory's size, and the
    optimiser's time against the analytic solution's on the same data (timed here).
    """
    from gplvm.model.analytic import analytic_optimum

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_obs in sizes:
            rng = np.random.default_rng(0)
            Z = rng.standard_normal((n_obs, Q))
            Y = Z @ rng.standard_normal((D, Q)).T + rng.standard_normal((n_obs, D)) / np.sqrt(10.0)
            path = Path(tmp) / f"y{n_obs}.npy"
            np.save(path, Y)
            overrides = ["dataset=file", f"dataset.path={path}", "model.beta=10"]
            _run_gplvm(overrides, None)  # warm the cache for this shape
            run_dir: dict = {}
            wall, rss, m = _run_gplvm(overrides, None, run_dir)
            Y -= Y.mean(axis=0)
            analytic = time_call(lambda Y=Y: analytic_optimum(Y, Q, 10.0, 1.0), min_seconds=0.0)
            del Y, Z
            rows.append(
                {
                    "n_obs": n_obs,
                    "wall_seconds": wall,
                    "peak_rss_mib": rss / 1024,
                    "run_dir_mb": run_dir["run_dir_bytes"] / 2**20,
                    "data_mb": n_obs * D * 8 / 2**20,
                    "compile_seconds": m["compile_seconds"],
                    "optimiser_seconds": m["fit_seconds"],
                    "analytic_seconds": analytic,
                    "optimiser_over_analytic": m["fit_seconds"] / analytic,
                    "iterations": m["iterations"],
                    "lbfgs_maxcor": m["lbfgs_maxcor"],
                    "gram_rel_error": m["gram_rel_error"],
                }
            )
    return rows


def _table(rows: list[dict]) -> str:
    keys = list(rows[0])
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    return markdown.table(keys, ([r[k] for k in keys] for r in rows), cell)


def evaluation_summary(rows: list[dict]) -> list[dict]:
    """Per N and backend: milliseconds per evaluation for each form, and dense over woodbury."""
    out = []
    numpy_ms = {r["n_obs"]: 1e3 * r["seconds"] for r in rows if r["backend"] == "numpy"}
    for backend in dict.fromkeys(r["backend"] for r in rows if r["backend"] != "numpy"):
        for n in sorted({r["n_obs"] for r in rows}):
            by_form = {r["form"]: r for r in rows if r["backend"] == backend and r["n_obs"] == n}
            wood = by_form["woodbury"]["seconds"] * 1e3
            dense = by_form["dense"]["seconds"] * 1e3 if "dense" in by_form else None
            out.append(
                {
                    "backend": backend,
                    "n_obs": n,
                    "woodbury_ms": wood,
                    "dense_ms": dense if dense is not None else "-",
                    "numpy_ms": numpy_ms[n],
                    "dense_over_woodbury": dense / wood if dense is not None else "-",
                    "compile_s (woodbury)": by_form["woodbury"]["compile_seconds"],
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark, print Markdown tables and write the figures as JSON."""
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes, fewer draws, no 10^5 or 10^6 rows"
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/bench"), help="where to write the JSON")
    parser.add_argument("--only", default="", help="comma-separated sections to run (JSON keys); default all")
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))

    sizes = [500, 1797] if args.quick else [500, 1797, 5000, 100_000]
    dense_max = 1797 if args.quick else 5000
    backend_list = backends()
    started = time.perf_counter()
    figures: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "date": datetime.now().isoformat(timespec="seconds"),
    }
    sections = []
    import bench_missing
    import bench_projection
    import bench_sparse
    import bench_svi

    def run(key: str, title: str, measure: Callable[[], list[dict]], table=None) -> None:
        """Measure one section, showing its start, and its table and time as soon as it ends."""
        if only and key not in only:
            return
        t0 = time.perf_counter()
        print(f"[{time.perf_counter() - started:6.0f} s] {key}: {title} ...", flush=True)
        figures[key] = measure()
        sections.append((title, _table(table(figures[key]) if table else figures[key])))
        print(
            f"\n### {title}\n\n{sections[-1][1]}\n\n({key}: {time.perf_counter() - t0:.0f} s)\n", flush=True
        )

    run(
        "evaluations",
        "One value + gradient evaluation (D = 64, Q = 2)",
        lambda: bench_evaluations(sizes, dense_max, backend_list),
        evaluation_summary,
    )
    run(
        "map_digits",
        "MAP on digits (1797 x 64, Q = 2), against the analytic solution",
        lambda: bench_map_digits(backend_list),
    )
    run(
        "startup",
        "Start-up: warm whole processes against importing PyMC",
        lambda: bench_startup(3 if args.quick else 7),
    )
    run("process", "Whole process: gplvm dataset=digits inference=map", lambda: bench_process(backend_list))
    run(
        "nuts",
        "NUTS on synthetic data (100 x 10, Q = 2, 2 chains)",
        lambda: bench_nuts(200 if args.quick else 1000),
    )
    rbf_sizes = [300] if args.quick else [300, 1000]
    run(
        "rbf_evaluations",
        "rbf: one value + gradient (Z, beta, variance, lengthscale), D = 64, Q = 2",
        lambda: bench_rbf_evaluations(rbf_sizes, backend_list),
    )
    run("curve_maps", "MAP on the curve dataset (100 x 10, Q = 1)", bench_curve_maps)
    bound_sizes = [1000, 4000] if args.quick else [1000, 4000, 16000]
    run(
        "bound_evaluations",
        f"Sparse and variational bounds: one value + gradient, M = {bench_sparse.M}, D = 64,"
        f" Q = {bench_sparse.Q_VARIATIONAL} (python backend)",
        lambda: bench_sparse.bench_bound_evaluations(bound_sizes, 1000, time_call),
    )
    run(
        "missing_evaluations",
        f"Missing cells: one value + gradient, N = {bench_missing.N}, D = {bench_missing.D},"
        " complete against 20% missing (python backend)",
        lambda: bench_missing.bench_missing_evaluations(time_call),
    )
    run(
        "imputation_coverage",
        "Imputed cells: 95%-interval coverage of 10% hidden cells (seed 0)",
        bench_missing.bench_imputation_coverage,
    )
    run("projection", "gplvm-project on digits runs, whole process", bench_projection.bench_projection)
    run(
        "back_constraint_projection",
        "300 held-out digits placed through a back-constrained run's g against optimised placement",
        bench_projection.bench_back_constraint,
    )
    run(
        "dense_crossover",
        "model=rbf on digits: sparse against dense from a sparse start, whole process",
        lambda: bench_sparse.bench_dense_crossover(_run_gplvm, (500,) if args.quick else (500, 1000)),
    )
    run(
        "bound_floor",
        "Bayesian GPLVM bound: one value + gradient on digits' shape against its flop floor",
        lambda: bench_sparse.bench_bound_floor(time_call),
    )
    svi_sizes = [10_000, 30_000] if args.quick else [10_000, 100_000, 1_000_000]
    run(
        "svi_epochs",
        f"Minibatch SVI: seconds per epoch against N (D = {bench_svi.D}, Q = {bench_svi.Q},"
        f" M = {bench_svi.M}, batches of {bench_svi.BATCH})",
        lambda: bench_svi.bench_svi_epochs(svi_sizes),
    )
    run(
        "svi_counts",
        "Poisson SVI on synthetic counts from a known 2-D latent (dataset=counts, D = 200), whole process",
        lambda: bench_svi.bench_counts(_run_gplvm, 10_000 if args.quick else 100_000),
    )
    run(
        "svi_on_disk",
        "Poisson SVI on int32 counts (D = 200, 2 epochs and the draws' scores), whole process:"
        " dataset.memory_map=true against the file loaded",
        lambda: bench_svi.bench_on_disk(100_000 if args.quick else 1_000_000),
    )
    gpytorch = bench_svi.gpytorch_python()
    if gpytorch is not None:
        run(
            "gpytorch",
            "GPyTorch's BayesianGPLVM beside inference=svi (log1p counts, Q = 2, M = 64, batches of 256)",
            lambda: bench_svi.bench_gpytorch(_run_gplvm, gpytorch, 2_000 if args.quick else 10_000),
        )
    elif not only or "gpytorch" in only:
        sections.append(
            (
                "GPyTorch beside gplvm",
                "GPYTORCH_PYTHON is not set: point it at an interpreter with torch and gpytorch",
            )
        )
    if bench_sparse.gpy_available():
        run(
            "gpy",
            "GPy beside gplvm on digits and breast cancer (RBF-ARD, M = 64, PCA start)",
            lambda: bench_sparse.bench_gpy(_run_gplvm, 500 if args.quick else None),
        )
    elif not only or "gpy" in only:
        sections.append(("GPy beside gplvm", "GPy is not installed: `pip install -e '.[bench]'`"))
    if not args.quick:
        run(
            "sparse_large",
            "Sparse rbf MAP on 10,000 curve points, whole process",
            lambda: bench_sparse.bench_sparse_large(_run_gplvm),
        )
        run(
            "large",
            "Linear MAP at N = 10^5 and 10^6 (D = 64, Q = 2), whole process",
            lambda: bench_large([100_000, 1_000_000]),
        )

    figures["total_seconds"] = time.perf_counter() - started
    text = "\n\n".join(f"### {title}\n\n{table}" for title, table in sections)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    for name in (f"bench-{stamp}.json", "latest.json"):
        (args.out / name).write_text(json.dumps(figures, indent=2) + "\n")
    (args.out / "latest.md").write_text(text + "\n")
    print(
        f"{len(sections)} sections in {figures['total_seconds']:.0f} s;"
        f" wrote {args.out / f'bench-{stamp}.json'} and {args.out / 'latest.md'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
