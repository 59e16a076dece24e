"""The typed record of one run: every figure ``metrics.json`` holds, in one list.

:class:`RunMetrics` is the single definition of what a run reports. The pipeline fills it, the
run directory stores it as JSON, and the CLI summary (fields marked ``summary``), ``gplvm-report``
(fields marked ``report``), ``gplvm-inspect`` and ``docs/outputs.md`` read its fields; a test
checks that the documentation lists exactly these fields.

Fields that do not apply to a run (NUTS diagnostics of a MAP run, the analytic optimum of an rbf
run) are null.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _f(doc: str, *, summary: bool = False, report: bool = False) -> Any:
    return field(default=None, metadata={"doc": doc, "summary": summary, "report": report})


@dataclass
class RunMetrics:
    """What one run reports. See ``docs/outputs.md`` for each field's meaning."""

    status: str | None = _f(
        "running, completed, failed or interrupted (stale: a dead running job)", report=True
    )
    method: str | None = _f("the fit method: map, nuts, variational or svi", summary=True, report=True)
    dataset: str | None = _f("the dataset's name")
    n_obs: int | None = _f("N, rows fitted", summary=True)
    n_features: int | None = _f("D, columns fitted (held-out ones excluded)", summary=True, report=True)
    n_missing: int | None = _f("missing cells in the fitted columns (dataset.missing=allow)", summary=True)
    latent_dim: int | None = _f("Q", summary=True)
    kernel: str | None = _f("the kernel's name", summary=True)
    ard: bool | None = _f("one length scale per latent dim")
    likelihood: str | None = _f("the likelihood form: woodbury, dense or sparse")
    noise: str | None = _f("svi: the observation model: gaussian, poisson or negative_binomial")
    num_inducing: int | None = _f("sparse: M, the number of inducing inputs")
    backend: str | None = _f("PyTensor compile backend")
    seed: int | None = _f("the run's seed")
    prior_scale: float | None = _f("sd of the Normal prior on Z")
    beta: float | None = _f(
        "noise precision: fixed, or fitted (MAP) / posterior mean (NUTS)", summary=True, report=True
    )
    hyperparameters: dict | None = _f("beta and the kernel's hyperparameters, fixed or fitted")
    learned: list | None = _f("names of the learned hyperparameters")
    latent_dim_sensitivity: list | None = _f("ARD: variance / lengthscale^2 per latent dim")
    log_likelihood: float | None = _f(
        "eq. 1 with its constant: at the MAP, or the posterior mean over draws", summary=True, report=True
    )
    log_posterior: float | None = _f("log_likelihood plus the log priors", summary=True)
    heldout_fraction: float | None = _f("share of feature columns held out")
    n_heldout_features: int | None = _f("number of held-out columns")
    heldout_log_lik_per_feature: float | None = _f(
        "mean log predictive density of a held-out column", report=True
    )
    heldout_log_lik_by_feature: dict | None = _f("the same per held-out column")
    train_log_lik_per_feature: float | None = _f("log_likelihood / n_features, for contrast", report=True)
    elpd_loo: float | None = _f("draws: PSIS-LOO elpd over the feature columns", report=True)
    elpd_loo_se: float | None = _f("draws: its standard error", report=True)
    p_loo: float | None = _f("draws: PSIS-LOO's effective number of parameters")
    pareto_k_max: float | None = _f("draws: the largest Pareto k over the features")
    pareto_k_threshold: float | None = _f(
        "draws: ArviZ's threshold for a good k, min(1 - 1/log10(S), 0.7)", report=True
    )
    n_pareto_k_bad: int | None = _f("draws: features with k above it (LOO unreliable when > 0)", report=True)
    loo_warning: str | None = _f("draws: the warning and remedy when some k are high")
    loo_method: str | None = _f("draws: PSIS-LOO, or PSIS-LOO corrected for q (variational runs)")
    q_pareto_k: float | None = _f(
        "variational: Pareto k of the importance ratios p(Y, Z_s) / q(Z_s) over q's draws", report=True
    )
    q_pareto_k_threshold: float | None = _f("variational: ArviZ's threshold for it")
    q_log_p: str | None = _f(
        "variational: the likelihood in p: exact (N <= 500), collapsed_bound or (counts) uncollapsed_bound"
    )
    q_warning: str | None = _f("variational: the warning and remedies when q_pareto_k is high")
    elpd_kfold: float | None = _f("kfold.folds >= 2: exact K-fold elpd over the feature columns", report=True)
    elpd_kfold_se: float | None = _f("kfold: its standard error", report=True)
    p_kfold: float | None = _f("kfold: the full fit's lppd minus elpd_kfold")
    kfold_folds: int | None = _f("kfold: K")
    analytic_log_posterior: float | None = _f("log posterior at the analytic optimum (linear kernel)")
    analytic_gap: float | None = _f("analytic_log_posterior minus the fitted one", summary=True, report=True)
    analytic_gap_relative: float | None = _f("analytic_gap / |analytic_log_posterior|")
    gram_rel_error: float | None = _f("||Z Z^T - Z* Z*^T||_F / ||Z* Z*^T||_F", summary=True, report=True)
    knn_error: float | None = _f(
        "leave-one-out 1-NN error of the labels in the latent space", summary=True, report=True
    )
    reconstruction_rmse: float | None = _f(
        "RMSE of Y against its predictive mean at the fitted latents (fitted data's units; null for counts)",
        report=True,
    )
    knn_error_relevant: float | None = _f("ARD with Q > 2: the same in the two most relevant dims")
    pca_knn_error: float | None = _f(
        "the same for PCA with as many dims (counts: of log1p-normalised counts)"
    )
    procrustes_error: float | None = _f(
        "data with true latents of Q dims: Procrustes disparity of the fitted latents to them"
        " (0 best, 1 worst)",
        report=True,
    )
    pca_procrustes_error: float | None = _f("the same for PCA with as many dims")
    compile_seconds: float | None = _f("time before the first iteration or draw", summary=True, report=True)
    fit_seconds: float | None = _f("time optimising or sampling", summary=True, report=True)
    converged: bool | None = _f("the optimiser's or the sampler's verdict", summary=True, report=True)
    iterations: int | None = _f("MAP: L-BFGS-B iterations, summed over restarts; svi: Adam steps")
    epochs: int | None = _f("svi: epochs run (passes over the rows)")
    batch_size: int | None = _f("svi: rows per step")
    final_step_size: float | None = _f("svi: Adam's step size at the end")
    restarts: int | None = _f("MAP: restarts after a stalled line search")
    likelihood_choice: str | None = _f("model.likelihood=auto: the form chosen and why")
    latent_prior: dict | None = _f(
        "latent_prior other than iid: its name, settings and (fitted) hyperparameter"
    )
    init: str | None = _f("MAP, svi: where it started (pca, random, or sparse: from a sparse MAP)")
    sparse_start: dict | None = _f("MAP from a sparse MAP: that fit's iterations, converged, seconds")
    lbfgs_maxcor: int | None = _f("MAP: L-BFGS correction pairs kept (maxcor, lowered to fit history_mb)")
    gradient_max_abs: float | None = _f("MAP: largest gradient entry at the end")
    convergence: str | None = _f("MAP, svi: which convergence rule applied")
    optimizer_message: str | None = _f("MAP: L-BFGS-B's message")
    warnings: list | None = _f("MAP: warnings raised while fitting")
    draws: int | None = _f("NUTS, variational, svi: draws per chain")
    tune: int | None = _f("NUTS: tuning steps per chain")
    chains: int | None = _f("NUTS, variational, svi: chains")
    sampler: str | None = _f("NUTS: nutpie or pymc")
    divergences: int | None = _f("NUTS: divergent transitions", summary=True, report=True)
    step_size_mean: float | None = _f("NUTS: mean step size")
    tree_depth_mean: float | None = _f("NUTS: mean tree depth")
    tree_depth_max: int | None = _f("NUTS: largest tree depth")
    max_tree_depth_fraction: float | None = _f("NUTS: share of draws at the maximum tree depth")
    rhat_max_invariants: float | None = _f("NUTS: largest R-hat of the invariants", report=True)
    ess_bulk_min_invariants: float | None = _f("NUTS: smallest bulk ESS of the invariants", report=True)
    ess_tail_min_invariants: float | None = _f("NUTS: smallest tail ESS of the invariants")
    rhat_max_aligned: float | None = _f("NUTS: largest R-hat of Z_aligned", report=True)
    ess_bulk_min_aligned: float | None = _f("NUTS: smallest bulk ESS of Z_aligned", report=True)
    ess_tail_min_aligned: float | None = _f("NUTS: smallest tail ESS of Z_aligned")
    rhat_max_raw: float | None = _f("NUTS: largest R-hat of raw Z (misleads: rotations)")
    ess_bulk_min_raw: float | None = _f("NUTS: smallest bulk ESS of raw Z")
    ess_tail_min_raw: float | None = _f("NUTS: smallest tail ESS of raw Z")
    alignment_residual_mean: float | None = _f("NUTS: mean ||Z R - Z_reference|| / ||Z_reference||")
    diagnostic_problems: list | None = _f(
        "each failed check with a remedy (NUTS diagnostics, runaway hyperparameters)"
    )
    elbo: float | None = _f(
        "variational, svi: the evidence lower bound at the optimum (svi: over all rows)",
        summary=True,
        report=True,
    )
    views: dict | None = _f("dataset.views: each view's number of columns")
    view_relevance: dict | None = _f(
        "views: each view's ARD relevance per latent dim, divided by its largest"
    )
    view_dims: dict | None = _f("views: per latent dim, the views that use it and shared, private or unused")
    view_relevance_threshold: float | None = _f("views: the relevance above which a view uses a dim")
    label_view: str | None = _f("dataset.label_view: the view of one-hot labels")
    labels_hidden: int | None = _f("label view: labels left out by dataset.hide_labels")
    labels_predicted: int | None = _f("label view: rows without a label, given a predicted one")
    label_accuracy: float | None = _f(
        "label view: share of the hidden labels predicted right", summary=True, report=True
    )
    label_confidence: float | None = _f(
        "label view: mean probability of the predicted label on the hidden rows (near"
        " label_accuracy when calibrated)",
        report=True,
    )
    map_log_likelihood: float | None = _f("NUTS: log_likelihood at the MAP the chains started from")
    map_log_posterior: float | None = _f("NUTS: log_posterior at that MAP")
    map_compile_seconds: float | None = _f("NUTS: compile seconds of that MAP")
    map_fit_seconds: float | None = _f("NUTS: optimiser seconds of that MAP")
    config_sha256: str | None = _f("SHA-256 of the composed config (without resume): what resume compares")
    pid: int | None = _f("running: the job's process id")
    host: str | None = _f("running: the job's host")
    started_at: str | None = _f("running: when the job started (UTC)")
    signal: str | None = _f("interrupted: SIGINT or SIGTERM")
    elapsed_seconds: float | None = _f("interrupted: seconds from the start to the signal")
    error_type: str | None = _f("failed: the error's type")
    error: str | None = _f("failed: the error message", report=True)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form written to ``metrics.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunMetrics:
        """Read a ``metrics.json`` dict; keys this version does not know (older runs) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def field_names(flag: str | None = None) -> list[str]:
    """Names of the record's fields, in order; with ``flag`` (``summary``, ``report``) only those marked."""
    return [f.name for f in fields(RunMetrics) if flag is None or f.metadata[flag]]


def field_docs() -> dict[str, str]:
    """One line of documentation per field."""
    return {f.name: f.metadata["doc"] for f in fields(RunMetrics)}
