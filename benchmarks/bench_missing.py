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
