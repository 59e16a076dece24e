"""Minibatch SVI in ``make bench``: seconds per epoch against N, Poisson counts at 10^5 rows as a
whole process, counts on disk (``dataset.memory_map``) against the same counts in memory, and
GPyTorch's Bayesian GPLVM beside ours.

Epochs: Gaussian data of N rows x 50 columns drawn through tanh of a random map of a 2-D latent;
Q = 2, M = 32 inducing inputs, batches of 256 rows, two epochs each with the C backend (the
step's compile is excluded). The per-row cost should not change with N.
"""

from __future__ import annotations

import time

import numpy as np

Q, M, D, BATCH, EPOCHS = 2, 32, 50, 256, 2


def _data(n_obs: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_obs, Q))
    Y = np.tanh(Z @ rng.standard_normal((Q, D))) + 0.1 * rng.standard_normal((n_obs, D))
    return Y - Y.mean(axis=0)


def bench_svi_epochs(sizes: list[int]) -> list[dict]:
    """Per N: seconds per epoch, microseconds per row, and per-row time over the smallest N's."""
    from gplvm.config import load_config
    from gplvm.inference.base import compile_mode
    from gplvm.inference.svi import Schedule, fit_svi
    from gplvm.inference.svi_objectives import GaussianObjective
    from gplvm.model.spec import ModelSpec

    cfg = load_config("model=rbf_ard", f"model.latent_dim={Q}", f"model.num_inducing={M}")
    rows, first = [], None
    for n_obs in sizes:
        Y = _data(n_obs)
        spec = ModelSpec.from_config(cfg.model, n_obs).as_sparse()
        U, _, _ = np.linalg.svd(Y, full_matrices=False)
        Z0 = U[:, :Q] * np.sqrt(n_obs)
        start = {
            "Z_mean": Z0,
            "Z_var": np.full_like(Z0, 0.1),
            "inducing": Z0[np.random.default_rng(0).choice(n_obs, M, replace=False)],
            "q_u_mean": np.zeros((M, D)),
            "q_u_chol": 0.1 * np.eye(M),
        }
        objective = GaussianObjective(spec, Y, 1.0, compile_mode("c"))  # inference=svi's default
        schedule = Schedule(batch_size=BATCH, epochs=EPOCHS, learning_rate=0.02, tol=0.0)
        fit = fit_svi(objective, start, schedule)
        per_epoch = fit.trace.seconds / EPOCHS
        per_row = 1e6 * per_epoch / n_obs
        first = first or per_row
        rows.append(
            {
                "N": n_obs,
                "seconds_per_epoch": round(per_epoch, 3),
                "us_per_row": round(per_row, 2),
                "per_row_vs_smallest": round(per_row / first, 2),
                "rows_per_second": round(n_obs / per_epoch),
            }
        )
    return rows


def neighbours_kept(Z: np.ndarray, Z_true: np.ndarray, k: int = 10) -> float:
    """Mean share of each point's k nearest neighbours in Z_true that are also among its k nearest
    in Z: local structure, blind to the smooth warps that a linear alignment penalises."""
    from scipy.spatial import cKDTree

    ours = cKDTree(Z).query(Z, k + 1)[1][:, 1:]
    truth = cKDTree(Z_true).query(Z_true, k + 1)[1][:, 1:]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ours, truth, strict=True)]))


def bench_counts(run_gplvm, n_obs: int, n_features: int = 200) -> list[dict]:
    """``gplvm`` on ``dataset=counts`` (Poisson, a known 2-D latent), Poisson SVI, as a whole
    process: wall time, peak memory, epochs, and the latent against the truth and against PCA of
    log1p-normalised counts (Procrustes disparity, 10-NN kept, 1-NN error of the sectors)."""
    import tempfile
    from pathlib import Path

    import xarray as xr

    from gplvm.config import load_config
    from gplvm.data.loading import load_dataset
    from gplvm.evaluate.metrics import pca_baseline
    from gplvm.model.spec import ModelSpec

    data_args = ["dataset=counts", f"dataset.n_obs={n_obs}", f"dataset.n_features={n_features}"]
    overrides = [*data_args, "model=rbf_ard", "model.noise=poisson", "inference=svi", "plot=false"]
    sizes: dict = {}
    with tempfile.TemporaryDirectory() as keep:
        wall, rss, m = run_gplvm(overrides, None, sizes, keep_dir=Path(keep))
        tree = xr.open_datatree(Path(keep) / "posterior.nc")
        Z = tree["variational"]["Z_mean"].values
    cfg = load_config(*data_args, "model.noise=poisson")
    data = load_dataset(cfg.dataset)
    pca = pca_baseline(data, 2, ModelSpec.from_config(cfg.model))
    return [
        {
            "N": n_obs,
            "D": n_features,
            "wall_seconds": round(wall, 1),
            "peak_rss_mib": round(rss / 1024),
            "compile_seconds": round(m["compile_seconds"], 1),
            "fit_seconds": round(m["fit_seconds"], 1),
            "epochs": m["epochs"],
            "converged": m["converged"],
            "procrustes_error": round(m["procrustes_error"], 3),
            "pca_procrustes_error": round(m["pca_procrustes_error"], 3),
            "neighbours_kept": round(neighbours_kept(Z, data.Z_true), 3),
            "pca_neighbours_kept": round(neighbours_kept(pca, data.Z_true), 3),
            "knn_error": round(m["knn_error"], 3),
            "pca_knn_error": round(m["pca_knn_error"], 3),
        }
    ]


def gpytorch_python() -> str | None:
    """An interpreter with torch and gpytorch (``GPYTORCH_PYTHON``), or None: they are not gplvm's
    dependencies (PyPI's torch brings the CUDA stack), so the comparison runs in their own venv."""
    import os

    return os.environ.get("GPYTORCH_PYTHON") or None


def bench_gpytorch(run_gplvm, python: str, n_obs: int = 10_000, epochs: int = 20) -> list[dict]:
    """GPyTorch's BayesianGPLVM (its tutorial's model, in ``python``) beside ``inference=svi`` on
    the same data: log1p-normalised counts of ``dataset=counts`` (a Gaussian likelihood, which both
    have), Q = 2, M = 64, batches of 256, the same number of epochs at a constant step size.
    Whole-process and training seconds, and each latent space against the truth."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    import xarray as xr
    from scipy.spatial import procrustes

    from gplvm.config import load_config
    from gplvm.data.loading import load_dataset
    from gplvm.evaluate.metrics import nearest_neighbour_error
    from gplvm.inference.svi_counts import CountData
    from gplvm.model.spec import ModelSpec

    data_args = ["dataset=counts", f"dataset.n_obs={n_obs}", "dataset.n_features=200"]
    cfg = load_config(*data_args, "model.noise=poisson")
    data = load_dataset(cfg.dataset)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log1p.npy"
        count_data = CountData.of(data, ModelSpec.from_config(cfg.model))
        np.save(path, count_data.normalised_rows(slice(0, n_obs)))
        ours = [
            "dataset=file",
            f"dataset.path={path}",
            "model=rbf_ard",
            "model.num_inducing=64",
            "inference=svi",
            "inference.batch_size=256",
            f"inference.epochs={epochs}",
            "inference.tol=0",
            "plot=false",
        ]
        run_dir = Path(tmp) / "run"
        wall, _, m = run_gplvm(ours, None, None, keep_dir=run_dir)
        Z_ours = xr.open_datatree(run_dir / "posterior.nc")["variational"]["Z_mean"].values
        script = Path(__file__).with_name("gpytorch_bgplvm.py")
        cmd = [python, str(script), str(path), str(Path(tmp) / "z.npy"), "2", "64", "256", str(epochs)]
        start = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        gp_wall = time.perf_counter() - start
        gp_seconds = json.loads(out.stdout.strip().splitlines()[-1])["seconds"]
        Z_gp = np.load(Path(tmp) / "z.npy")
    for name, Z, total, train in (
        ("gplvm inference=svi", Z_ours, wall, m["fit_seconds"]),
        ("GPyTorch BayesianGPLVM", Z_gp, gp_wall, gp_seconds),
    ):
        rows.append(
            {
                "fit": name,
                "N": n_obs,
                "epochs": epochs,
                "wall_seconds": round(total, 1),
                "training_seconds": round(train, 1),
                "procrustes_error": round(float(procrustes(data.Z_true, Z)[2]), 3),
                "neighbours_kept": round(neighbours_kept(Z, data.Z_true), 3),
                "knn_error": round(nearest_neighbour_error(Z, data.labels), 3),
            }
        )
    return rows


def _run_sampled(cmd: list[str], env: dict) -> tuple[float, dict]:
    """Run ``cmd``; wall seconds and its peak anonymous and file-backed resident memory (MiB),
    sampled from /proc every 0.1 s (file-backed pages, a mapped file's, can be reclaimed)."""
    import subprocess

    peaks = {"RssAnon": 0, "RssFile": 0}
    began = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                for line in status:
                    key, _, value = line.partition(":")
                    if key in peaks:
                        peaks[key] = max(peaks[key], int(value.split()[0]) // 1024)
        except OSError:
            pass
        time.sleep(0.1)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {process.returncode})")
    return time.perf_counter() - began, peaks


def bench_on_disk(n_obs: int, n_features: int = 200, epochs: int = 2) -> list[dict]:
    """Poisson SVI on ``dataset=counts`` saved as an int32 ``.npy``, read memory-mapped
    (``dataset.memory_map=true``) and loaded: whole process for ``epochs`` epochs (with the draws'
    scores), peak anonymous and file-backed memory."""
    import json
    import os
    import sys
    import tempfile
    from pathlib import Path

    from gplvm.config import load_config
    from gplvm.data.loading import load_dataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "counts.npy"
        data = load_dataset(
            load_config(
                "dataset=counts", f"dataset.n_obs={n_obs}", f"dataset.n_features={n_features}"
            ).dataset
        )
        np.save(path, np.rint(data.to_original_units(data.Y)).astype(np.int32))
        del data
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        for mapped in (True, False):
            run_dir = Path(tmp) / f"run_{mapped}"
            overrides = [
                "dataset=file",
                f"dataset.path={path}",
                f"dataset.memory_map={str(mapped).lower()}",
                "model=rbf_ard",
                "model.noise=poisson",
                "inference=svi",
                f"inference.epochs={epochs}",
                "plot=false",
                f"hydra.run.dir={run_dir}",
            ]
            wall, peaks = _run_sampled([sys.executable, "-m", "gplvm", *overrides], env)
            m = json.loads((run_dir / "metrics.json").read_text())
            rows.append(
                {
                    "N": n_obs,
                    "D": n_features,
                    "data": "memory-mapped" if mapped else "in memory",
                    "file_mib": round(path.stat().st_size / 2**20),
                    "wall_seconds": round(wall, 1),
                    "seconds_per_epoch": round(m["fit_seconds"] / m["epochs"], 1),
                    "peak_anonymous_mib": peaks["RssAnon"],
                    "peak_file_backed_mib": peaks["RssFile"],
                    "elbo": round(m["elbo"]),
                }
            )
    return rows
