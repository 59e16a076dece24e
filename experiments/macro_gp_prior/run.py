"""A GP latent prior over time on a real multivariate time series: US macrodata, 1959-2009.

Run from the repository root:  make experiment NAME=macro_gp_prior
(statsmodels, the ``experiments`` extra, ships the data). Writes output/ beside this file (git
ignores it): the series as CSV, one run directory per fit, comparison.json, comparison.md and
heldout.png.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

import gplvm
from gplvm.config import load_config
from gplvm.run import markdown
from gplvm.run.pipeline import fit_experiment, save_experiment

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
LEVELS = ["realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "pop"]  # logged
RATES = ["tbilrate", "unemp", "infl", "realint"]
BLOCK = (1985.0, 1988.0)  # an interior block of 12 quarters, held out
TAIL = 8  # and the last 8 quarters: a two-year forecast
GP = ["latent_prior=gp", "latent_prior.inputs=[time]"]
GP_FITS = {  # name: overrides of conf/experiment/macro_gp_prior.yaml (model=rbf, Q = 2)
    "rbf, Q = 2": [],
    "linear, Q = 2": ["model=linear", "model.learn.beta=true"],
    "linear, Q = 4": ["model=linear", "model.learn.beta=true", "model.latent_dim=4"],
}


def write_data() -> tuple[pd.DataFrame, np.ndarray]:
    """The series (levels logged) with a time column in years; train.csv without the held-out
    quarters (plain.csv: the same rows without time, for the iid fit). Returns the full frame and
    the held-out mask."""
    import statsmodels.api as sm

    raw = sm.datasets.macrodata.load_pandas().data
    frame = pd.DataFrame({"time": raw["year"] + (raw["quarter"] - 1) / 4})
    for name in LEVELS:
        frame[f"log_{name}"] = np.log(raw[name])
    for name in RATES:
        frame[name] = raw[name]
    heldout = frame["time"].between(*BLOCK, inclusive="left").to_numpy().copy()
    heldout[-TAIL:] = True
    OUT.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUT / "series.csv", index=False)
    frame[~heldout].to_csv(OUT / "train.csv", index=False)
    frame[~heldout].drop(columns="time").to_csv(OUT / "plain.csv", index=False)
    return frame, heldout


def linear_interpolation(times: np.ndarray, Y: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Each series interpolated linearly in time (held flat beyond the last training quarter)."""
    return np.column_stack([np.interp(new_times, times, Y[:, d]) for d in range(Y.shape[1])])


def scores(predicted: np.ndarray, truth: np.ndarray, sd_units: np.ndarray) -> float:
    """Root mean squared error over cells, each series in units of its training sd."""
    return float(np.sqrt(np.mean(((predicted - truth) / sd_units) ** 2)))


def main() -> dict:
    frame, heldout = write_data()
    series = [c for c in frame.columns if c != "time"]
    train, test = frame[~heldout], frame[heldout]
    times, Y = train["time"].to_numpy(), train[series].to_numpy()
    new_times, truth = test["time"].to_numpy(), test[series].to_numpy()
    sd = Y.std(axis=0)
    parts = {"block 1985-87": new_times < BLOCK[1], "final 2 years": new_times >= BLOCK[1]}

    predictions, intervals, fitted = {}, {}, {}
    for name, overrides in GP_FITS.items():
        start = time.perf_counter()
        exp = fit_experiment(load_config("+experiment=macro_gp_prior", *GP, *overrides))
        seconds = time.perf_counter() - start
        save_experiment(exp, OUT / ("gp_prior_" + name.replace(", Q = ", "_q")))
        along = exp.predict_along(new_times[:, None])
        predictions[f"GP prior over time, {name}"] = along.Y
        intervals[f"GP prior over time, {name}"] = np.abs(along.Y - truth) <= 1.96 * along.Y_sd
        fitted[name] = {
            "latent_lengthscale_years": exp.metrics["latent_prior"]["lengthscale"] * float(times.std()),
            "log_posterior": exp.metrics["log_posterior"],
            "hyperparameters": exp.metrics["hyperparameters"],
            "seconds": seconds,
        }
        if name == "rbf, Q = 2":
            first = along
    iid = fit_experiment(load_config("+experiment=macro_gp_prior", f"dataset.path={OUT / 'plain.csv'}"))
    save_experiment(iid, OUT / "iid_prior")
    # The iid fit has no notion of time: its best placement of a held-out quarter is the latent of
    # the training quarter nearest to it in data space (an oracle: it looks at the answer).
    nearest = np.argmin((((truth[:, None, :] - Y[None, :, :]) / sd) ** 2).sum(axis=-1), axis=1)
    iid_run = gplvm.load_run(OUT / "iid_prior")
    iid_mean, _ = iid_run.reconstruct(iid_run.latents[nearest], original_units=True)
    predictions |= {
        "iid fit (rbf, Q = 2) at the nearest training quarter (oracle)": iid_mean,
        "linear interpolation in time": linear_interpolation(times, Y, new_times),
        "last training quarter carried forward": Y[np.searchsorted(times, new_times) - 1],
    }
    rows = {}
    for name, predicted in predictions.items():
        rows[name] = {part: scores(predicted[mask], truth[mask], sd) for part, mask in parts.items()}
        if name in intervals:
            inside = intervals[name]
            rows[name] |= {
                f"{part}: 95% coverage": float(inside[mask].mean()) for part, mask in parts.items()
            }
    summary = {"rows": rows, "gp_fits": fitted}
    (OUT / "comparison.json").write_text(json.dumps(summary, indent=2) + "\n")
    columns = ["prediction", *(f"{p}: RMSE (training sds)" for p in parts)]
    columns += [f"{p}: 95% coverage" for p in parts]
    table = markdown.table(
        columns,
        ([name, *row.values(), *["-"] * (len(columns) - 1 - len(row))] for name, row in rows.items()),
        lambda v: f"{v:.3g}" if isinstance(v, float) else str(v),
    )
    (OUT / "comparison.md").write_text(table + "\n")
    plot(frame, heldout, series, new_times, first)
    print(table)
    print(json.dumps(fitted, indent=1))
    return summary


def plot(frame: pd.DataFrame, heldout: np.ndarray, series: list[str], new_times, along) -> None:
    """Four series with the held-out quarters, the GP prior's prediction and its 95% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ["log_realgdp", "log_realinv", "unemp", "tbilrate"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for ax, name in zip(axes.ravel(), shown, strict=True):
        d = series.index(name)
        ax.plot(frame["time"], frame[name], color="0.6", linewidth=0.8, label="series")
        ax.scatter(frame["time"][heldout], frame[name][heldout], s=8, color="black", label="held out")
        for part in (new_times < BLOCK[1], new_times >= BLOCK[1]):
            t, m, s = new_times[part], along.Y[part, d], along.Y_sd[part, d]
            ax.plot(t, m, color="tab:blue", label="GP prior")
            ax.fill_between(t, m - 1.96 * s, m + 1.96 * s, color="tab:blue", alpha=0.25)
        ax.set_title(name)
    axes[0, 0].legend(*[x[:3] for x in axes[0, 0].get_legend_handles_labels()], loc="upper left")
    fig.suptitle(
        "US macrodata: held-out quarters predicted along time (rbf GPLVM MAP, Q = 2, GP prior over time)"
    )
    fig.tight_layout()
    fig.savefig(OUT / "heldout.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
