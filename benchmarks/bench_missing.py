"""Missing cells in ``make bench``: what 20% missing cells cost per evaluation, against complete data.

One value + gradient (with respect to the latents, and the inducing inputs for the sparse forms)
of each form on the same N x D data, complete and with a seeded 20% of the cells missing; the
ratio is the price of leaving each column's missing rows out. The imputation's accuracy is an
experiment (``experiments/digits_missing``), not a timing.
"""

from __future__ import annotations

import numpy as np

N, D, FRACTION = 1797, 64, 0.2  # digits' shape
CASES = {  # form, kernel, Q
    "woodbury": ("woodbury", "linear", 10),
    "sparse (M = 64)": ("sparse", "rbf", 5),
    "variational (M = 64)": ("variational", "rbf", 5),
}


def _compiled(case: str, observed: np.ndarray | None, Y: np.ndarray):
    """A compiled function (Z, U) -> [value, gradients] for ``case``, complete when ``observed`` is None."""
    import pytensor
    import pytensor.tensor as pt

    from gplvm.model.forms import make_form
    from gplvm.model.forms.sparse import Sparse
    from gplvm.model.kernels import make_kernel
    from gplvm.model.variational_bound import expected_log_likelihood, expected_missing_log_likelihood

    form_name, kernel_name, _ = CASES[case]
    kernel = make_kernel(kernel_name, ard=form_name == "variational", jitter=1e-6)
    form = Sparse(kernel) if form_name == "variational" else make_form(form_name, kernel)
    Z, U = pt.matrix("Z"), pt.matrix("U")
    hyper = {"beta": pt.as_tensor(np.float64(10.0)), "inducing": U}
    for name in kernel.hyperparameters:
        hyper[name] = pt.as_tensor(np.float64(0.5))
    Y0 = np.where(np.isnan(Y), 0.0, Y)
    if form_name == "variational":
        S = pt.as_tensor(np.full((len(Y), CASES[case][2]), 0.1))
        if observed is None:
            graph = expected_log_likelihood(form, Z, S, Y0, hyper)
        else:
            graph = expected_missing_log_likelihood(form, Z, S, Y0, hyper, observed)
    elif observed is None:
        graph = form.log_likelihood(Z, Y0, hyper)
    else:
        graph = form.missing_log_likelihood(Z, Y0, hyper, observed)
    wrt = [Z, U] if form_name != "woodbury" else [Z]
    return pytensor.function(
        [Z, U], [graph, *pytensor.grad(graph, wrt)], mode="FAST_COMPILE", on_unused_input="ignore"
    )


def bench_missing_evaluations(time_call, n_obs: int = N) -> list[dict]:
    """Milliseconds per value + gradient, complete against 20% missing, python backend (the default)."""
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((n_obs, D))
    Y[rng.random(Y.shape) < FRACTION] = np.nan
    rows = []
    for case, (_, _, latent_dim) in CASES.items():
        Z, U = rng.standard_normal((n_obs, latent_dim)), rng.standard_normal((64, latent_dim))
        times = {}
        for label, observed in (("complete", None), ("missing", ~np.isnan(Y))):
            fn = _compiled(case, observed, Y)
            times[label] = time_call(lambda fn=fn, Z=Z, U=U: fn(Z, U), min_seconds=0.5, max_reps=20)
        rows.append(
            {
                "form": case,
                "Q": latent_dim,
                "complete_ms": 1e3 * times["complete"],
                "missing_20pct_ms": 1e3 * times["missing"],
                "ratio": times["missing"] / times["complete"],
            }
        )
    return rows


# Calibration of imputed cells: (data, rows, overrides).
COVERAGE_CASES = [
    ("iris", None, ["model.learn.beta=true"]),
    ("iris", None, ["model=rbf"]),
    ("iris", None, ["model=rbf", "inference=variational"]),
    ("iris", None, ["model.learn.beta=true", "inference=nuts"]),
    ("digits", 500, ["model.learn.beta=true"]),
    ("digits", 500, ["model=rbf", "inference=variational"]),
]
HIDDEN_FRACTION = 0.1


def bench_imputation_coverage(cases=COVERAGE_CASES) -> list[dict]:
    """95%-interval coverage of a seeded 10% of hidden cells, with the imputation's RMSE and time.

    Each case hides the cells, fits with ``dataset.missing=allow`` and scores the imputed means
    and sds against the hidden values (the nominal coverage, 0.95, is the reference).
    """
    import tempfile
    import time
    from pathlib import Path

    import pandas as pd

    from gplvm import fit_experiment, load_config
    from gplvm.data.bundled import load_digits_array, load_iris_array

    rows = []
    tmp_dir = Path(tempfile.mkdtemp(prefix="gplvm-coverage-"))
    for name, n_rows, overrides in cases:
        Y = (load_iris_array if name == "iris" else load_digits_array)()[0].astype(float)[:n_rows]
        hidden = np.random.default_rng(0).random(Y.shape) < HIDDEN_FRACTION
        hidden[hidden.all(axis=1)] = False
        path = tmp_dir / f"{name}_holes.csv"
        pd.DataFrame(np.where(hidden, np.nan, Y)).add_prefix("x").to_csv(path, index=False)
        start = time.perf_counter()
        exp = fit_experiment(
            load_config(
                "dataset=file", f"dataset.path={path}", "dataset.missing=allow", "plot=false", *overrides
            )
        )
        imputed = exp.idata["imputed"]
        mean, sd = imputed["Y_imputed"].values[hidden], imputed["Y_imputed_sd"].values[hidden]
        rows.append(
            {
                "data": name if n_rows is None else f"{name} ({n_rows} rows)",
                "fit": " ".join(overrides),
                "hidden_cells": int(hidden.sum()),
                "coverage_95": float(np.mean(np.abs(Y[hidden] - mean) / sd < 1.96)),
                "rmse": float(np.sqrt(np.mean((Y[hidden] - mean) ** 2))),
                "median_sd": float(np.median(sd)),
                "seconds": time.perf_counter() - start,
            }
        )
    return rows
