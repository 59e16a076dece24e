"""The report of a sweep (``gplvm-report``): one table, one plot and the best configuration.

It reads every job directory of a multirun (those holding ``.hydra/overrides.yaml``) and writes
into the sweep directory:

- ``report.csv`` and ``report.md``: one row per job with its overrides, status, log-likelihood,
  held-out score, analytic gap, timings and, for NUTS, the convergence figures;
- ``report.png``: the score against ``model.latent_dim`` (or the first swept numeric key), one
  line per value of the other swept keys.

The score is the held-out log-likelihood per feature when the sweep computed it, else the
log-likelihood. Failed jobs appear with status ``failed`` and their error.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import yaml

from gplvm.errors import GPLVMError
from gplvm.evaluate.elpd import suggested_folds
from gplvm.evaluate.record import field_names
from gplvm.run import markdown, results
from gplvm.run.sweep import job_dirs, job_metrics, job_status

REPORT_CSV = "report.csv"
REPORT_MD = "report.md"
REPORT_PLOT = "report.png"
HELDOUT = "heldout_log_lik_per_feature"
COLUMNS = field_names("report")  # the record's fields marked for the report


class SweepDirectoryError(GPLVMError):
    """The sweep directory is missing or holds no job."""


def _parse_value(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def read_overrides(job_dir: Path) -> dict:
    """The job's command-line overrides as ``{key: value}`` (``+``/``~`` prefixes dropped)."""
    lines = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {key.lstrip("+~"): _parse_value(value) for key, value in pairs}


def collect(sweep_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """One row per job; returns the table and the keys that vary across jobs."""
    if not sweep_dir.is_dir():
        raise SweepDirectoryError(f"{sweep_dir}: no such directory")
    dirs = job_dirs(sweep_dir)
    if not dirs:
        raise SweepDirectoryError(f"{sweep_dir}: no job directories (none holds .hydra/overrides.yaml)")
    rows = []
    for job in dirs:
        overrides = read_overrides(job)
        metrics = job_metrics(job)
        row = {"job": str(job.relative_to(sweep_dir)), **overrides}
        row.update({c: metrics.get(c) for c in COLUMNS})
        status = job_status(job, metrics)  # a dead "running" job shows as stale
        row["status"], row["error"] = status.status, status.error
        rows.append(row)
    table = pd.DataFrame(rows)
    override_keys = list(dict.fromkeys(k for row in rows for k in row if k not in COLUMNS and k != "job"))
    swept = [k for k in override_keys if table[k].astype(str).nunique() > 1]
    return table, swept


def score_column(table: pd.DataFrame) -> str:
    """The first that any job has: the held-out score, elpd by K-fold, elpd by PSIS-LOO (both over
    features; see gplvm-compare for their comparison with standard errors), the log-likelihood."""
    for column in (HELDOUT, "elpd_kfold", "elpd_loo"):
        if column in table and table[column].notna().any():
            return column
    return "log_likelihood"


def best_row(table: pd.DataFrame) -> pd.Series | None:
    """The completed job with the highest score, or None when none completed."""
    done = table[(table["status"] == "completed") & table[score_column(table)].notna()]
    return None if done.empty else done.loc[done[score_column(table)].astype(float).idxmax()]


def loo_flags(table: pd.DataFrame) -> pd.Series:
    """Per job: '' when its PSIS-LOO is reliable or absent, else how many features have a bad k."""

    def flag(row) -> str:
        bad = row.get("n_pareto_k_bad")
        if row.get("elpd_loo") is None or pd.isna(row.get("elpd_loo")) or not bad or pd.isna(bad):
            return ""
        return f"UNRELIABLE: {int(bad)} features with Pareto k > {row.get('pareto_k_threshold', 0.7):.2f}"

    return table.apply(flag, axis=1) if len(table) else pd.Series(dtype=str)


def ranking_problem(table: pd.DataFrame, swept: list[str], best: pd.Series) -> tuple[bool, str | None]:
    """(whether the best row may be named, and why it cannot be trusted with what would fix it, or
    None when it can)."""
    score = score_column(table)
    sizes = table["n_features"].dropna() if "n_features" in table else pd.Series(dtype=float)
    folds = suggested_folds(int(sizes.min())) if len(sizes) else 10
    model_keys = [k for k in swept if k.lstrip("+").startswith(("model", "inference"))]
    if score == "log_likelihood" and model_keys:
        return False, (
            f"No ranking: the training log-likelihood favours the larger model whenever"
            f" {', '.join(model_keys)} vary. Rerun the sweep with heldout.fraction=0.2 (a held-out score)"
            f" or kfold.folds={folds} (K-fold over features), or compare the jobs with gplvm-compare"
        )
    if score == "elpd_loo" and best.get("loo_check"):
        return True, (
            f"The best job's PSIS-LOO is unreliable ({best['loo_check']}): rank with K-fold instead"
            f" (gplvm-compare --kfold {folds}, or rerun with kfold.folds={folds})"
        )
    return True, None


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(table: pd.DataFrame) -> str:
    """The table as GitHub Markdown, without empty columns."""
    table = table.dropna(axis=1, how="all")
    return markdown.table(list(table.columns), table.itertuples(index=False), _cell)


def _draw(done: pd.DataFrame, x_key: str, others: list[str], score: str, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = done.groupby(others, dropna=False) if others else [((), done)]
    for key, group in groups:
        values = key if isinstance(key, tuple) else (key,)
        group = group.sort_values(x_key)
        label = ", ".join(f"{k}={v}" for k, v in zip(others, values, strict=True)) or None
        ax.plot(group[x_key], group[score].astype(float), marker="o", label=label)
    if pd.api.types.is_integer_dtype(done[x_key]):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=x_key, ylabel=score, title=f"{score} across the sweep")
    if others:
        ax.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scores(table: pd.DataFrame, swept: list[str], path: Path) -> bool:
    """Score against latent_dim (or the first numeric swept key), one line per other setting.

    Returns False, writing nothing, when no numeric key was swept or no job completed.
    """
    done = table[table["status"] == "completed"]
    numeric = [k for k in swept if pd.api.types.is_numeric_dtype(table[k])]
    x_key = "model.latent_dim" if "model.latent_dim" in swept else (numeric[0] if numeric else None)
    if x_key is None or done.empty:
        return False
    others = [k for k in swept if k != x_key]
    results.write_atomic(path, lambda p: _draw(done, x_key, others, score_column(table), p))
    return True


def write_report(sweep_dir: Path) -> str:
    """Write report.csv, report.md and report.png; return the text to print."""
    table, swept = collect(sweep_dir)
    table["loo_check"] = loo_flags(table)
    ordered = ["job", *swept, *[c for c in table.columns if c not in ("job", *swept)]]
    table = table[ordered]
    results.write_atomic(sweep_dir / REPORT_CSV, lambda p: table.to_csv(p, index=False))
    best = best_row(table)
    n_done = int((table["status"] == "completed").sum())
    summary = [f"{len(table)} jobs, {n_done} completed, {len(table) - n_done} not completed."]
    if best is None:
        summary.append("No job completed, so there is no best configuration.")
    else:
        setting = " ".join(f"{k}={best[k]}" for k in swept) or "(nothing was swept)"
        rankable, problem = ranking_problem(table, swept, best)
        if rankable:
            summary.append(
                f"Best by {score_column(table)} = {best[score_column(table)]:.6g}: {setting}"
                f" (job {best['job']})"
            )
        if problem is not None:
            summary.append(problem)
    text = "\n".join(summary)
    markdown = f"# Sweep report: {sweep_dir}\n\n{text}\n\n{to_markdown(table)}\n"
    written = [sweep_dir / REPORT_CSV, sweep_dir / REPORT_MD]
    if plot_scores(table, swept, sweep_dir / REPORT_PLOT):
        markdown += f"\n![score]({REPORT_PLOT})\n"
        written.append(sweep_dir / REPORT_PLOT)
    results.write_atomic(sweep_dir / REPORT_MD, lambda p: p.write_text(markdown))
    return text + "\nWrote " + ", ".join(str(p) for p in written)
