"""Comparison of fitted runs by their elpd over features (``gplvm-compare``).

Every run must have been fitted to the same data with the same held-out columns. Each run's elpd
is PSIS-LOO over the features when it has draws (a ``log_likelihood`` group) and its Pareto k
values are good; else its K-fold result (a run fitted with ``kfold.folds``); with ``--kfold K``
every run is compared by exact K-fold over the same seeded folds, refitted now. ``az.compare``
ranks them. Writes, to ``--out`` (default ``SWEEP_DIR/comparison``, or ``./comparison``):
``compare.csv``, ``compare.md`` and ``compare.png`` (ArviZ's comparison plot).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from gplvm.errors import GPLVMError
from gplvm.evaluate import elpd
from gplvm.evaluate.elpd import stacking_weights as weights_of
from gplvm.run import markdown, results
from gplvm.run.lifecycle import status
from gplvm.run.loaded import Run, load_run
from gplvm.run.sweep import job_dirs
from gplvm.run.sweep_report import read_overrides

Refit = Callable[[Run, int, int], object]  # (run, folds, seed) -> ELPDData
TABLE, MARKDOWN, PLOT = "compare.csv", "compare.md", "compare.png"


class CompareError(GPLVMError):
    """Runs that cannot be compared; the message is the one line the user sees."""


def run_dirs(paths: list[Path]) -> tuple[list[Path], Path | None]:
    """The run directories to compare, and the sweep directory when one was given.

    A single directory without ``metrics.json`` is a sweep: its completed jobs are compared.
    """
    for path in paths:
        if not path.is_dir():
            raise CompareError(f"{path}: no such directory")
    if len(paths) == 1 and not (paths[0] / results.METRICS).is_file():
        jobs = [
            job
            for job in job_dirs(paths[0])
            if (job / results.METRICS).is_file() and status(results.read_metrics(job), job) == "completed"
        ]
        if not jobs:
            raise CompareError(f"{paths[0]}: neither a run directory nor a sweep with completed jobs")
        return jobs, paths[0]
    return paths, None


def _flat(config, prefix: str = "") -> dict[str, str]:
    """A composed config as dotted keys and their values as text."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


def _differing(settings: list[dict]) -> list[str] | None:
    """``key=value`` of the keys whose values differ, one name per run; None unless they tell all apart."""
    keys = dict.fromkeys(k for s in settings for k in s)
    swept = [k for k in keys if len({str(s.get(k)) for s in settings}) > 1]
    names = [" ".join(f"{k}={s.get(k)}" for k in swept) for s in settings]
    return names if swept and len(set(names)) == len(names) else None


def run_names(runs: list, sweep_dir: Path | None) -> list[str]:
    """Runs by what differs between them (``model.latent_dim=3``): a sweep's overrides, else the
    composed configs (seed and run paths aside); by directory when that does not tell them apart."""
    if sweep_dir is not None:
        names = _differing([read_overrides(run.path) for run in runs])
        return names or [str(run.path.relative_to(sweep_dir)) for run in runs]
    configs = []
    for run in runs:
        flat = _flat(OmegaConf.to_container(run.config, resolve=False))
        configs.append({k: v for k, v in flat.items() if not k.startswith("hydra")})
    return _differing(configs) or [str(run.path) for run in runs]


def data_identity(run) -> tuple[str, tuple[str, ...]]:
    """(SHA-256 of the fitted data, held-out feature names): what must agree across compared runs."""
    constant = run.tree.constant_data
    held = (
        tuple(str(v) for v in constant["heldout_feature"].values)
        if "heldout_feature" in constant.coords
        else ()
    )
    return str(run.tree.attrs.get("data_sha256", "")), held


def check_same_data(runs: list, names: list[str]) -> None:
    """Refuse, with one line naming the difference, runs fitted to different data or held-out columns."""
    first_data, first_held = data_identity(runs[0])
    for run, name in zip(runs[1:], names[1:], strict=True):
        data, held = data_identity(run)
        if data != first_data:
            raise CompareError(
                f"{name} and {names[0]} were fitted to different data"
                f" (SHA-256 {data[:12]}... against {first_data[:12]}...); compare runs of the same data"
            )
        if held != first_held:
            raise CompareError(
                f"{name} and {names[0]} hold out different feature columns"
                f" ({', '.join(held) or 'none'} against {', '.join(first_held) or 'none'})"
            )


def elpd_of(run, folds: int | None, seed: int, refit: Refit | None = None) -> tuple[object, str]:
    """(ELPDData, how it was obtained) for one run; see the module docstring for the order.

    ``refit`` (:func:`gplvm.run.refit.kfold_now`) runs K-fold when the run has no such folds of
    its own; it is passed in, so that comparing stored results never loads the fit methods.
    """
    if run.record.views:
        raise CompareError(f"{run.path} has several views (dataset.views): multi-view runs have no elpd yet")
    recorded = elpd.kfold_from_group(run.tree["kfold"].to_dataset()) if "kfold" in run.tree else None
    if folds:
        if recorded is not None and (recorded.n_folds, run.tree["kfold"].attrs.get("seed")) == (folds, seed):
            return recorded, f"{folds}-fold (from the run)"  # the same folds: no need to refit
        if refit is None:
            raise CompareError(f"{run.path}: {folds}-fold needs refits; pass refit=gplvm.run.refit.kfold_now")
        return refit(run, folds, seed), f"{folds}-fold (refitted now)"
    loo = elpd.loo(run.tree) if "log_likelihood" in run.tree else None
    bad = elpd.loo_summary(loo)["n_pareto_k_bad"] if loo is not None else None
    if loo is not None and not bad:
        return loo, elpd.loo_method(loo)
    if recorded is not None:
        return recorded, f"{recorded.n_folds}-fold (from the run)"
    if loo is not None:
        return loo, (
            f"{elpd.loo_method(loo)}, UNRELIABLE ({bad} of {loo.n_data_points} features"
            f" with k > {loo.good_k:.2f};"
            f" use --kfold {elpd.suggested_folds(loo.n_data_points)})"
        )
    folds = elpd.suggested_folds(run.record.n_features)
    raise CompareError(
        f"{run.path}: a point estimate without K-fold results has no elpd;"
        f" rerun it with kfold.folds={folds}, or compare with --kfold {folds}"
    )


def has_elpd(run) -> bool:
    """Whether a run carries an elpd of its own: draws (a log_likelihood group) or K-fold results."""
    return "log_likelihood" in run.tree or "kfold" in run.tree


def stacking_weights(elpds: dict):
    """Stacking weights of the models (as ``az.compare``'s default), computed in log space.

    ArviZ exponentiates each feature's elpd, which underflows when a feature's log density is
    below about -745 (digits' are in the thousands): its weights then come out arbitrary.
    """
    import pandas as pd

    pointwise = np.stack([np.ravel(result.elpd_i.values) for result in elpds.values()])
    return pd.Series(weights_of(pointwise), index=list(elpds))


def compare(paths: list[Path], folds: int | None = None, seed: int = 0, refit: Refit | None = None):
    """(``az.compare`` table, how each run's elpd was obtained, sweep directory or None).

    In a sweep without ``folds``, jobs without an elpd of their own (MAP without K-fold) are left
    out; named on the command line, they are an error.
    """
    import arviz as az

    dirs, sweep_dir = run_dirs(paths)
    runs = [load_run(path) for path in dirs]
    if sweep_dir is not None and not folds:
        kept = [run for run in runs if has_elpd(run)]
        if len(kept) < 2:
            folds = elpd.suggested_folds(min(r.record.n_features for r in runs))
            raise CompareError(
                f"{sweep_dir}: {len(kept)} of {len(runs)} completed jobs have draws or K-fold results;"
                f" compare with --kfold {folds} (refits every job), or rerun the sweep with"
                f" kfold.folds={folds}"
            )
        runs = kept
    names = run_names(runs, sweep_dir)
    if len(set(names)) < len(names):
        names = [str(run.path) for run in runs]
    if len(runs) < 2:
        raise CompareError(f"{paths[0]}: only one completed run; compare needs two or more")
    check_same_data(runs, names)
    elpds, sources = {}, {}
    for run, name in zip(runs, names, strict=True):
        elpds[name], sources[name] = elpd_of(run, folds, seed, refit)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", UserWarning)  # LOO beside K-fold: said in the sources column
        warnings.simplefilter("ignore", RuntimeWarning)  # its stacking underflows; replaced below
        table = az.compare(elpds, round_to="none")
        table["weight"] = stacking_weights(elpds)[table.index].values
    table["elpd_from"] = [sources[name] for name in table.index]
    # The plot shows only the index: each name says how its elpd was estimated.
    tags = {name: f"{name} [{_short_source(sources[name])}]" for name in table.index}
    table = table.rename(index=tags)
    return table, {tags[name]: how for name, how in sources.items()}, sweep_dir


def _short_source(how: str) -> str:
    """``LOO``, ``LOO, unreliable`` or ``K-fold``-style short names of an elpd's source."""
    if how.startswith("PSIS-LOO"):
        return "LOO, unreliable" if "UNRELIABLE" in how else "LOO"
    return how.split(" ")[0]


def write_outputs(table, out: Path) -> None:
    """``compare.csv``, ``compare.md`` and ``compare.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    results.write_atomic(out / TABLE, lambda p: table.to_csv(p, index_label="model"))
    empty = [c for c in ("diag_elpd", "diag_diff") if c in table and not (table[c].astype(str) != "").any()]
    shown = table.drop(columns=empty)
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    text = markdown.table(["model", *shown.columns], ([name, *row] for name, row in shown.iterrows()), cell)
    results.write_atomic(out / MARKDOWN, lambda p: p.write_text(text + "\n"))
    import arviz_plots as azp
    import matplotlib

    matplotlib.use("Agg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plot = azp.plot_compare(table, backend="matplotlib")
        results.write_atomic(out / PLOT, lambda p: plot.savefig(p, bbox_inches="tight"))
