"""The plots of ``gplvm-inspect``, written to ``RUN_DIR/inspect/``, and :func:`inspect`: the
report (:mod:`gplvm.run.inspection_report`) with them.

For a posterior with draws: trace and rank plots of the invariants and the latent posterior; for a
point estimate: the latent space with the analytic optimum overlaid, when the kernel has one; and
the ARD relevance when there is one.
"""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np

from gplvm.evaluate.align import align_to
from gplvm.evaluate.diagnostics import invariant_names
from gplvm.evaluate.shading import latent_shading
from gplvm.plots import figures as plots
from gplvm.run import results
from gplvm.run.inspection_report import report
from gplvm.run.loaded import Run, load_run

INSPECT_DIR = "inspect"
TRACE_PLOT = "trace_invariants.png"
RANK_PLOT = "rank_invariants.png"
ARVIZ_CAPTIONS = {
    TRACE_PLOT: "Rotation-free figures by chain: each chain's density (left) and draws (right) should"
    " agree and look like noise around a level.",
    RANK_PLOT: "Rank plots: each chain's fractional-rank ECDF minus the uniform's; chains that mix stay"
    " near zero (p: the test of uniform ranks; below alpha, the chains differ).",
}
LATENT_POSTERIOR_PLOT = "latent_posterior.png"
LATENT_MAP_PLOT = "latent_map.png"
RELEVANCE_PLOT = "ard_relevance.png"


def analytic_overlay(run: Run, reference: np.ndarray) -> tuple[str, np.ndarray] | None:
    """The analytic optimum at the run's hyperparameters, aligned to ``reference``, when there is one."""
    spec = run.spec
    if spec is None or not spec.kernel.has_analytic_optimum:
        return None  # no closed form for this kernel: no need to load the data
    hyper = spec.summary(run.tree.posterior.to_dataset())
    optimum = spec.analytic_optimum(run.training_data(), hyper)
    return None if optimum is None else ("analytic MAP (aligned)", align_to(optimum.Z, reference))


def run_shading(run: Run, Z: np.ndarray):
    """Predictive-variance background at ``Z`` for stationary kernels, or None.

    Hyperparameters are the MAP's, or posterior means.
    """
    spec = run.spec
    if spec is None:
        return None
    return latent_shading(Z, run.hyperparameters, spec)


def _labels(run: Run) -> np.ndarray | None:
    constant = run.tree.constant_data
    return constant["label"].values.astype(str) if "label" in constant else None


def write_plots(run: Run) -> list[Path]:
    """Write the inspection plots to ``RUN_DIR/inspect/`` and return their paths."""
    out = run.path / INSPECT_DIR
    out.mkdir(exist_ok=True)
    labels = _labels(run)
    post = run.tree.posterior
    written = []
    if run.has_draws:
        arviz_plots = [(TRACE_PLOT, az.plot_trace_dist)]
        if post.sizes["chain"] >= 2:  # rank plots compare chains
            arviz_plots.append((RANK_PLOT, az.plot_rank))
        # A variational fit's hyperparameters are points, the same in every draw: nothing to plot.
        spread = {
            n: post[n].max(("chain", "draw")) - post[n].min(("chain", "draw"))
            for n in invariant_names(run.tree)
        }
        varying = [n for n, s in spread.items() if float(s.min()) > 0]
        for name, plot in arviz_plots:
            caption = ARVIZ_CAPTIONS[name]
            results.write_atomic(
                out / name,
                lambda p, plot=plot, caption=caption: plots.save_arviz_plot(
                    p, plot, run.tree, varying, caption
                ),
            )
            written.append(out / name)
        reference = run.tree["alignment"]["Z_reference"].values
        overlay = analytic_overlay(run, reference)
        results.write_atomic(
            out / LATENT_POSTERIOR_PLOT,
            lambda p: plots.save_latent_posterior_plot(
                p, post["Z_aligned"].values, reference, labels, overlay, shading=run_shading(run, reference)
            ),
        )
        written.append(out / LATENT_POSTERIOR_PLOT)
    else:
        Z = post["Z"].values[0, 0]
        panels = [("MAP", Z)]
        overlay = analytic_overlay(run, Z)
        if overlay is not None:
            panels.append(overlay)
        shadings = [run_shading(run, Z)] + [None] * (len(panels) - 1)
        results.write_atomic(
            out / LATENT_MAP_PLOT, lambda p: plots.save_latent_plot(p, panels, labels, shadings)
        )
        written.append(out / LATENT_MAP_PLOT)
    sensitivity = run.record.latent_dim_sensitivity
    if sensitivity is not None:
        results.write_atomic(out / RELEVANCE_PLOT, lambda p: plots.save_relevance_plot(p, sensitivity))
        written.append(out / RELEVANCE_PLOT)
    return written


def inspect(run_dir: Path, make_plots: bool = True) -> str:
    """Load a run directory, write its plots and return the report text."""
    run = load_run(run_dir)
    text = report(run)
    if run.record.views:  # a multi-view run's plots are written with it (view_relevance.png)
        return text + f"\n\nPlots:\n  {run.path / 'view_relevance.png'}\n  {run.path / 'latent.png'}"
    if make_plots:
        paths = write_plots(run)
        text += "\n\nPlots:\n" + "\n".join(f"  {p}" for p in paths)
    return text
