"""The text that ``gplvm-inspect`` prints for a run directory: the fit's figures, diagnostics,
predictive accuracy and a plain verdict.

For a posterior with draws (NUTS) the report holds the ArviZ summary of the rotation invariants, a
compact view of the aligned latents and the convergence figures; for a Bayesian GPLVM q(Z), the
bound and the ARD relevance; for a point estimate (MAP) the fit's figures. Plots are
:mod:`gplvm.run.inspection`'s, so that a report alone loads no plotting library.
"""

from __future__ import annotations

import arviz as az
import numpy as np

from gplvm.evaluate.diagnostics import invariant_names
from gplvm.evaluate.record import RunMetrics
from gplvm.run import markdown
from gplvm.run.loaded import Run


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(float(v)) for v in value) + "]"
    return "-" if value is None else str(value)


def diagnostics_table(m: RunMetrics) -> str:
    """R-hat and ESS for the invariants, the aligned latents and raw Z, as a Markdown table."""
    names = {"invariants": "invariants", "aligned": "Z_aligned", "raw": "raw Z (misleads: rotations)"}
    rows = [
        [name, *(_fmt(getattr(m, f"{k}_{group}")) for k in ("rhat_max", "ess_bulk_min", "ess_tail_min"))]
        for group, name in names.items()
    ]
    return markdown.table(["quantity", "max R-hat", "min bulk ESS", "min tail ESS"], rows)


def draws_report(run: Run) -> str:
    """The text report for a posterior with draws (NUTS)."""
    m, post = run.record, run.tree.posterior
    spread = post["Z_aligned"].std(dim=("chain", "draw")).values  # (obs, latent_dim)
    point_sd = np.sqrt((spread**2).sum(axis=1))
    worst = int(np.argmax(point_sd))
    lines = [
        f"{m.method.upper()} run {run.path}",
        model_line(m) + ";",
        f"  {m.chains} chains x {m.draws} draws ({m.tune} tuning);"
        f" compile {m.compile_seconds:.1f} s, sampling {m.fit_seconds:.1f} s",
        "",
        "Rotation invariants and learned hyperparameters (ArviZ summary):",
        az.summary(run.tree, var_names=invariant_names(run.tree)).to_string(),
        "",
        "Aligned latents (generalised Procrustes to the posterior mean):",
        f"  posterior sd of a point's position: median {np.median(point_sd):.3g},"
        f" max {point_sd.max():.3g} (obs {post['obs'].values[worst]});"
        f" mean alignment residual {m.alignment_residual_mean:.3g}",
        az.summary(run.tree, var_names=["Z_aligned"], coords={"obs": post["obs"].values[:3]}).to_string(),
        "",
        "Convergence:",
        diagnostics_table(m),
        f"  leave-one-out 1-NN error of the posterior mean {_fmt(m.knn_error)} (PCA {_fmt(m.pca_knn_error)})",
        f"  divergences {m.divergences}, mean step size {_fmt(m.step_size_mean)},"
        f" tree depth mean {_fmt(m.tree_depth_mean)} max {_fmt(m.tree_depth_max)}",
        "",
    ]
    if m.converged:
        lines.append(
            "Verdict: converged (R-hat <= 1.01 and ESS >= 100 per chain on the rotation-free figures,"
            " no divergences)."
        )
    else:
        lines.append("Verdict: NOT converged:")
        lines += [f"  - {p}" for p in m.diagnostic_problems]
    return "\n".join(lines)


def variational_report(run: Run) -> str:
    """The text report for a Bayesian GPLVM: q(Z), the bound, ARD relevance and the latent space."""
    m, q = run.record, run.tree["variational"]
    point_sd = np.sqrt(q["Z_var"].values.sum(axis=1))
    if m.method == "svi":
        climb = (
            f"  minibatch SVI: {m.epochs} epochs of batches of {m.batch_size} rows"
            f" ({m.iterations} Adam steps),"
            f" full-data ELBO {_fmt(m.elbo)}"
        )
        remedy = "; raise inference.epochs to continue further up the bound."
    else:
        climb = f"  L-BFGS-B: {m.iterations} iterations, ELBO {_fmt(m.elbo)}"
        remedy = "; raise inference.maxiter to continue further up the bound."
    how = m.convergence if m.optimizer_message is None else f"{m.convergence}: {m.optimizer_message}"
    lines = [
        f"{m.method.upper()} run {run.path}",
        model_line(m) + ";",
        f"  q(Z) = prod_n N(Z_mean[n], diag Z_var[n]) with M={m.num_inducing} inducing inputs;"
        f" {m.chains} chains x {m.draws} draws from q in the posterior",
        f"{climb}; compile {m.compile_seconds:.1f} s, fit {m.fit_seconds:.1f} s",
        f"  q's sd of a point's position: median {np.median(point_sd):.3g}, max {point_sd.max():.3g}",
    ]
    if m.q_pareto_k is not None:
        lines.append(
            f"  q against the posterior: Pareto k of the importance ratios {m.q_pareto_k:.2f}"
            f" (good below {m.q_pareto_k_threshold:.2f}; p with the {m.q_log_p.replace('_', ' ')} likelihood)"
        )
    if m.latent_dim_sensitivity is not None:
        order = np.argsort(-np.asarray(m.latent_dim_sensitivity))
        ranked = ", ".join(f"dim {i}: {m.latent_dim_sensitivity[i]:.3g}" for i in order)
        lines.append(f"  ARD relevance (variance / lengthscale^2), most relevant first: {ranked}")
    lines += [
        f"  leave-one-out 1-NN error of Z_mean {_fmt(m.knn_error)}"
        f" (two most relevant dims {_fmt(m.knn_error_relevant)}; PCA {_fmt(m.pca_knn_error)})",
        "",
        f"Verdict: {'converged' if m.converged else 'NOT converged'} ({how})"
        + ("." if m.converged or m.diagnostic_problems else remedy),
        *[f"  - {p}" for p in m.diagnostic_problems or []],
        *([f"  POOR q: {m.q_warning}"] if m.q_warning else []),
    ]
    return "\n".join(lines)


def views_report(run: Run) -> str:
    """A multi-view run: its views, the relevance matrix and which views use each latent dim."""
    m = run.record
    names = list(m.views)
    width = max(len(n) for n in names)
    header = " " * (width + 2) + " ".join(f"dim {q:<3}" for q in range(m.latent_dim))
    rows = [
        f"  {name:<{width}} " + " ".join(f"{value:7.3f}" for value in m.view_relevance[name])
        for name in names
    ]
    dims = [
        f"  dim {q}: {info['kind']}" + (f" ({', '.join(info['views'])})" if info["views"] else "")
        for q, info in m.view_dims.items()
    ]
    return "\n".join(
        [
            f"{m.method.upper()} run with {len(names)} views {run.path}",
            f"  {m.dataset}: N={m.n_obs}, views "
            + ", ".join(f"{n} ({m.views[n]} columns)" for n in names)
            + f", Q={m.latent_dim}, {m.kernel} kernel (model.views may change a view's)",
            f"  L-BFGS-B: {m.iterations} iterations, "
            + (
                f"ELBO {_fmt(m.elbo)}"
                if m.method == "variational"
                else f"log posterior {_fmt(m.log_posterior)}"
            )
            + f"; fit {m.fit_seconds:.1f} s",
            f"  leave-one-out 1-NN error of the latent means {_fmt(m.knn_error)}"
            f" (PCA {_fmt(m.pca_knn_error)})",
            *_label_lines(m),
            f"  ARD relevance, each view divided by its largest (a view uses a dim above"
            f" {m.view_relevance_threshold:g}):",
            header,
            *rows,
            *dims,
            "",
            f"Verdict: {'converged' if m.converged else 'NOT converged: raise inference.maxiter'}.",
        ]
    )


def _label_lines(m: RunMetrics) -> list[str]:
    """A label view's predictions: how many, and their accuracy on the hidden labels."""
    if m.label_view is None:
        return []
    line = f"  label view {m.label_view!r}: {m.labels_predicted} rows without a label predicted"
    if m.label_accuracy is not None:
        line += (
            f"; on the {m.labels_hidden} hidden labels accuracy {m.label_accuracy:.3f},"
            f" mean probability of the predicted label {m.label_confidence:.3f}"
        )
    return [line + " (predicted_labels.csv)"]


def model_line(m: RunMetrics) -> str:
    """Data size, kernel and hyperparameters (fitted or fixed), e.g. for the first report line."""
    kernel = (m.kernel or "linear") + (" (ARD)" if m.ard else "")
    hyper = m.hyperparameters or {"beta": m.beta}
    values = ", ".join(f"{k}={_fmt(v)}" for k, v in hyper.items())
    learned = m.learned or []
    line = f"  {m.dataset}: N={m.n_obs} D={m.n_features} Q={m.latent_dim}, {kernel} kernel, {values}" + (
        f" (learned: {', '.join(learned)})" if learned else ""
    )
    if m.noise not in (None, "gaussian"):
        line += f"\n  {m.noise.replace('_', '-')} counts with a log link (beta unused)"
    prior = m.latent_prior
    if prior is not None and prior["name"] == "back_constrained":
        line += (
            f"\n  latent prior: back-constrained, Z = g(Y) through an rbf kernel over {prior['num_centres']}"
            f" training rows (length scale {_fmt(prior['lengthscale'])} in data space)"
        )
    elif prior is not None and prior["name"] == "informative":
        how = "learned" if prior.get("spread_learned") else "fixed"
        line += (
            f"\n  latent prior: latent dims centred on {', '.join(prior['inputs'])}, spread"
            f" {_fmt(prior['spread'])} ({how}, in latent units)"
        )
    elif prior is not None:
        group = f", sequences by {prior['group']}" if prior.get("group") else ""
        how = "learned" if prior.get("lengthscale_learned") else "fixed"
        line += (
            f"\n  latent prior: a GP over {', '.join(prior['inputs'])}{group} ({prior['kernel']}, white"
            f" {prior['white']:g}), length scale {_fmt(prior['lengthscale'])} ({how}, in sds of the inputs)"
        )
    return line


def point_report(run: Run) -> str:
    """The text report for a point estimate (MAP)."""
    m = run.record
    if m.analytic_gap is None:
        reason = f"{m.n_missing} missing cells" if m.n_missing else f"the {m.kernel} kernel"
        analytic = f"  analytic optimum: none for {reason}"
    else:
        analytic = (
            f"  analytic optimum: gap {_fmt(m.analytic_gap)}"
            f" (relative {_fmt(m.analytic_gap_relative)}), Gram error {_fmt(m.gram_rel_error)}"
        )
    return "\n".join(
        [
            f"{m.method.upper()} run {run.path}",
            model_line(m),
            f"  log-likelihood {m.log_likelihood:.6g}, log posterior {m.log_posterior:.6g}",
            analytic,
            f"  leave-one-out 1-NN error {_fmt(m.knn_error)} (PCA {_fmt(m.pca_knn_error)})",
            f"  optimiser: {m.iterations} iterations, {m.optimizer_message};"
            f" compile {m.compile_seconds:.1f} s, fit {m.fit_seconds:.2f} s",
            *(
                [f"  started from a sparse MAP: {m.sparse_start['iterations']} iterations"]
                if m.sparse_start
                else []
            ),
            f"Verdict: {'converged' if m.converged else 'NOT converged: see optimizer_message'}."
            if not m.diagnostic_problems
            else "Verdict: NOT converged:",
            *[f"  - {p}" for p in m.diagnostic_problems or []],
        ]
    )


def elpd_report(m: RunMetrics) -> str:
    """Predictive accuracy over features: PSIS-LOO (draws) and K-fold, with the LOO warning."""
    lines = []
    if m.elpd_loo is not None:
        how = m.loo_method or "PSIS-LOO"
        lines.append(
            f"  {how}, over the {m.n_features} features: elpd_loo {m.elpd_loo:.1f}"
            f" (se {m.elpd_loo_se:.1f}), p_loo {m.p_loo:.1f}; Pareto k max {m.pareto_k_max:.2f},"
            f" {m.n_pareto_k_bad} above {m.pareto_k_threshold:.2f}"
        )
        if m.loo_warning:
            lines.append(f"  WARNING: {m.loo_warning}")
    if m.elpd_kfold is not None:
        lines.append(
            f"  {m.kfold_folds}-fold over the features: elpd_kfold {m.elpd_kfold:.1f}"
            f" (se {m.elpd_kfold_se:.1f}), p_kfold {m.p_kfold:.1f}"
        )
    return "\n".join(["Predictive accuracy (gplvm-compare ranks runs by it):", *lines]) if lines else ""


def report(run: Run) -> str:
    """The report text of a loaded run: its fit's figures, then its predictive accuracy."""
    if run.record.views:
        return views_report(run)
    if "variational" in run.tree:
        text = variational_report(run)
    else:
        text = draws_report(run) if run.has_draws else point_report(run)
    comparison = elpd_report(run.record)
    return text + "\n\n" + comparison if comparison else text
