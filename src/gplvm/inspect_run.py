"""``gplvm-inspect RUN_DIR``: diagnostics, a verdict and plots for any run directory.

For NUTS it prints the ArviZ summary of the rotation invariants, a compact view of the aligned
latents and the convergence figures with a plain verdict, and writes trace and rank plots of the
invariants and the latent posterior. For MAP it prints the fit's figures and writes the latent
space with the analytic optimum overlaid. Plots go to ``RUN_DIR/inspect/``.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from gplvm import markdown, results
from gplvm.errors import RunDirectoryError

INSPECT_DIR = "inspect"
TRACE_PLOT = "trace_invariants.png"
RANK_PLOT = "rank_invariants.png"
LATENT_POSTERIOR_PLOT = "latent_posterior.png"
LATENT_MAP_PLOT = "latent_map.png"
EXIT_BAD_INPUT = 2


@dataclass
class Run:
    """A completed run directory, loaded."""

    path: Path
    metrics: dict
    tree: object  # xarray.DataTree


def load_run(run_dir: Path) -> Run:
    """Load ``metrics.json`` and ``posterior.nc``, or raise a one-line RunDirectoryError."""
    if not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir}: no such directory")
    if not (run_dir / results.METRICS).is_file():
        raise RunDirectoryError(f"{run_dir}: no {results.METRICS}; not a gplvm run directory")
    try:
        metrics = results.read_metrics(run_dir)
    except ValueError as exc:
        raise RunDirectoryError(f"{run_dir / results.METRICS}: not valid JSON ({exc})") from None
    status = metrics.get("status")
    if status == "failed":
        raise RunDirectoryError(f"{run_dir}: the run failed: {metrics.get('error', 'no error recorded')}")
    if status != "completed":
        raise RunDirectoryError(
            f"{run_dir}: the run is incomplete (status {status!r}); it may still be running"
        )
    if not (run_dir / results.POSTERIOR).is_file():
        raise RunDirectoryError(f"{run_dir}: {results.POSTERIOR} is missing")
    import arviz as az

    try:
        tree = az.from_netcdf(run_dir / results.POSTERIOR)
    except (OSError, ValueError) as exc:
        raise RunDirectoryError(f"{run_dir / results.POSTERIOR}: cannot be read ({exc})") from None
    return Run(run_dir, metrics, tree)


def analytic_overlay(run: Run, reference: np.ndarray) -> tuple[str, np.ndarray] | None:
    """The analytic optimum aligned to ``reference``, for linear-kernel runs with a fixed beta."""
    from gplvm.align import align_to
    from gplvm.closed_form import analytic_optimum

    attrs = run.tree.attrs
    if attrs.get("kernel", "linear") != "linear" or attrs.get("learned") or "Y" not in run.tree.constant_data:
        return None
    Y = run.tree.constant_data["Y"].values
    optimum = analytic_optimum(Y, int(attrs["latent_dim"]), float(attrs["beta"]), float(attrs["prior_scale"]))
    return "analytic MAP (aligned)", align_to(optimum.Z, reference)


def run_shading(run: Run, Z: np.ndarray):
    """Predictive-variance background of a non-linear run at ``Z``, or None (linear, older runs).

    Hyperparameters are the MAP's, or posterior means for NUTS.
    """
    from gplvm import hyperparameters
    from gplvm.config import model_config_from_yaml
    from gplvm.shading import latent_shading

    text = run.tree.attrs.get("model_config")
    if not text or run.tree.attrs.get("kernel", "linear") == "linear":
        return None
    model_cfg = model_config_from_yaml(text)
    return latent_shading(Z, hyperparameters.summary(run.tree.posterior.to_dataset(), model_cfg), model_cfg)


def _labels(run: Run) -> np.ndarray | None:
    constant = run.tree.constant_data
    return constant["label"].values.astype(str) if "label" in constant else None


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(float(v)) for v in value) + "]"
    return "-" if value is None else str(value)


def diagnostics_table(metrics: dict) -> str:
    """R-hat and ESS for the invariants, the aligned latents and raw Z, as a Markdown table."""
    names = {"invariants": "invariants", "aligned": "Z_aligned", "raw": "raw Z (misleads: rotations)"}
    rows = [
        [name, *(_fmt(metrics.get(f"{k}_{group}")) for k in ("rhat_max", "ess_bulk_min", "ess_tail_min"))]
        for group, name in names.items()
    ]
    return markdown.table(["quantity", "max R-hat", "min bulk ESS", "min tail ESS"], rows)


def nuts_report(run: Run) -> str:
    """The text report for a NUTS run."""
    import arviz as az

    from gplvm.diagnostics import invariant_names

    m, post = run.metrics, run.tree.posterior
    spread = post["Z_aligned"].std(dim=("chain", "draw")).values  # (obs, latent_dim)
    point_sd = np.sqrt((spread**2).sum(axis=1))
    worst = int(np.argmax(point_sd))
    lines = [
        f"NUTS run {run.path}",
        model_line(m) + ";",
        f"  {m['chains']} chains x {m['draws']} draws ({m['tune']} tuning);"
        f" compile {m['compile_seconds']:.1f} s, sampling {m['fit_seconds']:.1f} s",
        "",
        "Rotation invariants and learned hyperparameters (ArviZ summary):",
        az.summary(run.tree, var_names=invariant_names(run.tree)).to_string(),
        "",
        "Aligned latents (generalised Procrustes to the posterior mean):",
        f"  posterior sd of a point's position: median {np.median(point_sd):.3g},"
        f" max {point_sd.max():.3g} (obs {post['obs'].values[worst]});"
        f" mean alignment residual {m['alignment_residual_mean']:.3g}",
        az.summary(run.tree, var_names=["Z_aligned"], coords={"obs": post["obs"].values[:3]}).to_string(),
        "",
        "Convergence:",
        diagnostics_table(m),
        f"  leave-one-out 1-NN error of the posterior mean {_fmt(m.get('knn_error'))}"
        f" (PCA {_fmt(m.get('pca_knn_error'))})",
        f"  divergences {m['divergences']}, mean step size {_fmt(m.get('step_size_mean'))},"
        f" tree depth mean {_fmt(m.get('tree_depth_mean'))} max {_fmt(m.get('tree_depth_max'))}",
        "",
    ]
    if m["converged"]:
        lines.append(
            "Verdict: converged (R-hat <= 1.01 and ESS >= 100 per chain on the rotation-free figures,"
            " no divergences)."
        )
    else:
        lines.append("Verdict: NOT converged:")
        lines += [f"  - {p}" for p in m["diagnostic_problems"]]
    return "\n".join(lines)


def model_line(m: dict) -> str:
    """Data size, kernel and hyperparameters (fitted or fixed), e.g. for the first report line."""
    kernel = m.get("kernel", "linear") + (" (ARD)" if m.get("ard") else "")
    hyper = m.get("hyperparameters") or {"beta": m["beta"]}
    values = ", ".join(f"{k}={_fmt(v)}" for k, v in hyper.items())
    learned = m.get("learned") or []
    return (
        f"  {m['dataset']}: N={m['n_obs']} D={m['n_features']} Q={m['latent_dim']}, {kernel} kernel, {values}"
        + (f" (learned: {', '.join(learned)})" if learned else "")
    )


def map_report(run: Run) -> str:
    """The text report for a MAP run."""
    m = run.metrics
    if m.get("analytic_gap") is None:
        analytic = f"  analytic optimum: none for the {m.get('kernel')} kernel"
    else:
        analytic = (
            f"  analytic optimum: gap {_fmt(m.get('analytic_gap'))}"
            f" (relative {_fmt(m.get('analytic_gap_relative'))}), Gram error {_fmt(m.get('gram_rel_error'))}"
        )
    return "\n".join(
        [
            f"MAP run {run.path}",
            model_line(m),
            f"  log-likelihood {m['log_likelihood']:.6g}, log posterior {m['log_posterior']:.6g}",
            analytic,
            f"  leave-one-out 1-NN error {_fmt(m.get('knn_error'))} (PCA {_fmt(m.get('pca_knn_error'))})",
            f"  optimiser: {m.get('iterations')} iterations, {m.get('optimizer_message')};"
            f" compile {m['compile_seconds']:.1f} s, fit {m['fit_seconds']:.2f} s",
            f"Verdict: {'converged' if m.get('converged') else 'NOT converged: see optimizer_message'}.",
        ]
    )


def write_plots(run: Run) -> list[Path]:
    """Write the inspection plots to ``RUN_DIR/inspect/`` and return their paths."""
    from gplvm import plots

    out = run.path / INSPECT_DIR
    out.mkdir(exist_ok=True)
    labels = _labels(run)
    post = run.tree.posterior
    written = []
    if run.metrics["method"] == "nuts":
        import arviz as az

        from gplvm.diagnostics import invariant_names

        arviz_plots = [(TRACE_PLOT, az.plot_trace_dist)]
        if post.sizes["chain"] >= 2:  # rank plots compare chains
            arviz_plots.append((RANK_PLOT, az.plot_rank))
        for name, plot in arviz_plots:
            results.write_atomic(
                out / name,
                lambda p, plot=plot: plots.save_arviz_plot(p, plot, run.tree, invariant_names(run.tree)),
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
    return written


def inspect(run_dir: Path, make_plots: bool = True) -> str:
    """Load a run directory, write its plots and return the report text."""
    run = load_run(run_dir)
    text = nuts_report(run) if run.metrics["method"] == "nuts" else map_report(run)
    if make_plots:
        paths = write_plots(run)
        text += "\n\nPlots:\n" + "\n".join(f"  {p}" for p in paths)
    return text


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gplvm-inspect``."""
    parser = argparse.ArgumentParser(prog="gplvm-inspect", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run directory written by gplvm")
    parser.add_argument("--no-plots", action="store_true", help="print the report only")
    args = parser.parse_args(argv)
    try:
        print(inspect(args.run_dir, make_plots=not args.no_plots))
    except RunDirectoryError as exc:
        print(f"gplvm-inspect: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
