"""Plots (matplotlib, headless): the latent space, posterior clouds, and ArviZ's plots saved as PNG."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gplvm.evaluate.shading import Shading, top_two

MAX_LEGEND_LABELS = 20
# More dots than this draw slowly and hide each other; a seeded random subset stands in for them.
MAX_POINTS = 20_000


def shown_rows(n_obs: int, max_points: int = MAX_POINTS) -> tuple[np.ndarray, str]:
    """Row indices to draw (all, or a seeded random subset in row order) and a note for the title."""
    if n_obs <= max_points:
        return np.arange(n_obs), ""
    rows = np.sort(np.random.default_rng(0).choice(n_obs, size=max_points, replace=False))
    return rows, f"\n({max_points:,} of {n_obs:,} points, drawn at random)"


def _background(ax, shading: Shading | None, latent_dim: int) -> tuple[int, int]:
    """Draw ``shading`` if given; return the latent dims to plot over it."""
    if shading is None:
        return (0, 1)
    _shade(ax, shading)
    return (0, 1) if latent_dim == 1 else shading.dims


def _shade(ax, shading: Shading) -> None:
    """Light where the model is confident (low variance), dark where it is not."""
    extent = (shading.x[0], shading.x[-1], shading.y[0], shading.y[-1])
    image = ax.imshow(
        shading.variance, extent=extent, origin="lower", aspect="auto", cmap="Greys", interpolation="bilinear"
    )
    # Below the axes: the class legend sits on the right.
    ax.figure.colorbar(
        image, ax=ax, location="bottom", fraction=0.05, pad=0.13, aspect=40, label="predictive variance of f"
    )


def _xy(Z: np.ndarray, rows: np.ndarray, dims: tuple[int, int] = (0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """The two plotted coordinates: two latent dims, or dim 0 against the observation when Q = 1."""
    return (Z[:, dims[0]], Z[:, dims[1]]) if Z.shape[1] >= 2 else (Z[:, 0], rows.astype(float))


def _axis_labels(ax, latent_dim: int, suffix: str = "", dims: tuple[int, int] = (0, 1)) -> None:
    ax.set_xlabel(f"latent dim {dims[0]}{suffix}")
    ax.set_ylabel(f"latent dim {dims[1]}{suffix}" if latent_dim >= 2 else "observation")


def _by_label(labels: np.ndarray | None):
    """Yield (mask or None, colour, legend label) for each class, or once for unlabelled data."""
    if labels is None:
        yield None, "C0", None
        return
    classes = np.unique(labels)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for i, cls in enumerate(classes):
        yield labels == cls, cmap(i % cmap.N), str(cls)


def _legend(ax, labels: np.ndarray | None) -> None:
    if labels is not None and len(np.unique(labels)) <= MAX_LEGEND_LABELS:
        ax.legend(fontsize="small", markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)


def _title(ax, text: str, width: int = 62) -> None:
    """A title wrapped to the axes' width, so that long ones are not cut off."""
    ax.set_title(textwrap.fill(text, width), fontsize="medium")


def scatter_latents(
    ax, Z: np.ndarray, labels: np.ndarray | None, title: str, shading: Shading | None = None
) -> None:
    """Scatter two latent dims (or dim 0 against the row index when Q = 1), over ``shading`` if given."""
    dims = _background(ax, shading, Z.shape[1])
    rows, note = shown_rows(len(Z))
    x, y = _xy(Z[rows], rows, dims)
    shown = None if labels is None else labels[rows]
    for keep, colour, name in _by_label(shown):
        sel = slice(None) if keep is None else keep
        ax.scatter(x[sel], y[sel], s=8, alpha=0.7, color=colour, label=name)
    _legend(ax, shown)
    _title(ax, title + note)
    _axis_labels(ax, Z.shape[1], dims=dims)


def save_latent_plot(
    path: Path,
    panels: list[tuple[str, np.ndarray]],
    labels: np.ndarray | None,
    shadings: list[Shading | None] | None = None,
) -> None:
    """Write a PNG with one latent scatter per ``(title, Z)`` panel, side by side.

    ``shadings`` gives each panel an optional predictive-variance background.
    """
    shadings = shadings or [None] * len(panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5), squeeze=False)
    for ax, (title, Z), shading in zip(axes[0], panels, shadings, strict=True):
        scatter_latents(ax, Z, labels, title, shading)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_latent_posterior_plot(
    path: Path,
    Z_aligned: np.ndarray,
    reference: np.ndarray,
    labels: np.ndarray | None,
    overlay: tuple[str, np.ndarray] | None = None,
    title: str = "posterior of the latent positions",
    max_points: int = 60_000,
    shading: Shading | None = None,
) -> None:
    """Clouds of aligned draws around each latent point, coloured by label.

    ``Z_aligned`` is (chain, draw, N, Q); draws are thinned so that at most ``max_points`` dots are
    drawn, and above :data:`MAX_POINTS` observations a seeded random subset of them is shown (the
    title says so). The ``reference`` (N, Q) is shown as outlined dots and ``overlay``, when given, as
    crosses (for example the analytic MAP, aligned to the reference). ``shading`` is an optional
    predictive-variance background.
    """
    rows, note = shown_rows(Z_aligned.shape[-2])
    draws = Z_aligned.reshape(-1, *Z_aligned.shape[-2:])[:, rows]
    reference = reference[rows]
    labels = None if labels is None else labels[rows]
    overlay = None if overlay is None else (overlay[0], overlay[1][rows])
    n_obs, latent_dim = draws.shape[1:]
    cloud = draws[:: max(1, int(np.ceil(draws.shape[0] * n_obs / max_points)))]
    fig, ax = plt.subplots(figsize=(8.5 if shading else 7.5, 5.5))
    dims = _background(ax, shading, latent_dim)
    for keep, colour, name in _by_label(labels):
        sel = slice(None) if keep is None else keep
        x, y = _xy(cloud[:, sel].reshape(-1, latent_dim), np.tile(rows[sel], len(cloud)), dims)
        ax.scatter(x, y, s=2, alpha=0.08, color=colour, linewidths=0)
        ax.scatter([], [], s=20, color=colour, label=name)  # opaque legend entry
    x, y = _xy(reference, rows, dims)
    ax.scatter(x, y, s=6, facecolors="none", edgecolors="k", linewidths=0.4, label="alignment reference")
    if overlay is not None:
        x, y = _xy(overlay[1], rows, dims)
        ax.scatter(x, y, s=10, marker="x", color="k", linewidths=0.6, label=overlay[0])
    ax.legend(fontsize="small", markerscale=1.5, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)
    _title(ax, f"{title} ({len(cloud)} aligned draws per point){note}")
    _axis_labels(ax, latent_dim, " (aligned)", dims)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_trajectory_plot(
    path: Path,
    Z: np.ndarray,
    inputs: np.ndarray,
    groups: np.ndarray | None,
    title: str,
    input_name: str,
    join: bool = True,
) -> None:
    """Latents of a run with a covariate prior, points coloured by the input: two latent dims with
    each sequence a line in input order (GP prior), or latent dim 0 against the input when Q = 1
    or ``join`` is False (the informative prior: where each row went from its covariate)."""
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    groups = np.zeros(len(Z), dtype=int) if groups is None else groups
    two_dims = Z.shape[1] >= 2 and join
    x, y = (Z[:, 0], Z[:, 1]) if two_dims else (inputs, Z[:, 0])
    for group in np.unique(groups) if join else ():
        rows = np.flatnonzero(groups == group)
        rows = rows[np.argsort(inputs[rows], kind="stable")]
        ax.plot(x[rows], y[rows], color="0.6", linewidth=0.8, zorder=1)
    points = ax.scatter(x, y, c=inputs, cmap="viridis", s=14, zorder=2)
    fig.colorbar(points, ax=ax, label=input_name)
    _title(ax, title)
    if two_dims:
        _axis_labels(ax, Z.shape[1])
    else:
        ax.set(xlabel=input_name, ylabel="latent dim 0")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_projection_plot(
    path: Path,
    Z_train: np.ndarray,
    labels: np.ndarray | None,
    Z_new: np.ndarray,
    Z_sd: np.ndarray,
    new_labels: np.ndarray | None = None,
) -> None:
    """New rows' latents (crosses with +-1 sd bars, coloured by ``new_labels`` when given) over
    the training latents (grey, or coloured by their labels)."""
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    rows, note = shown_rows(len(Z_train))
    x, y = _xy(Z_train[rows], rows)
    shown = None if labels is None else labels[rows]
    for keep, colour, name in _by_label(shown):
        sel = slice(None) if keep is None else keep
        training_colour = colour if new_labels is None else "0.75"
        ax.scatter(
            x[sel],
            y[sel],
            s=6,
            alpha=0.35,
            color=training_colour,
            label=None if new_labels is not None else name,
        )
    if new_labels is not None:
        ax.scatter([], [], s=6, color="0.75", label="training rows")
    two_dims = Z_new.shape[1] >= 2  # else dim 0 against a row of crosses below the training points
    y = Z_new[:, 1] if two_dims else np.full(len(Z_new), -0.05 * len(Z_train))
    for keep, colour, name in _by_label(None if new_labels is None else np.asarray(new_labels, dtype=str)):
        sel = slice(None) if keep is None else keep
        ax.errorbar(
            Z_new[sel, 0],
            y[sel],
            xerr=Z_sd[sel, 0],
            yerr=Z_sd[sel, 1] if two_dims else None,
            fmt="x",
            color="k" if keep is None else colour,
            ms=5,
            elinewidth=0.6,
            label="new rows (+-1 sd)" if keep is None else f"new: {name}",
        )
    ax.legend(fontsize="small", markerscale=1.5, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)
    _title(ax, f"{len(Z_new)} new rows projected onto the latent space{note}")
    _axis_labels(ax, Z_train.shape[1])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_relevance_plot(path: Path, sensitivity: list[float], title: str = "ARD relevance") -> None:
    """Bar chart of each latent dim's ARD sensitivity (variance / lengthscale^2), most relevant marked."""
    values = np.asarray(sensitivity, dtype=float)
    top = set(top_two(values))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 + 0.6 * len(values)), 3.5))
    colours = ["C0" if i in top else "0.6" for i in range(len(values))]
    ax.bar(np.arange(len(values)), values, color=colours)
    ax.set_xticks(np.arange(len(values)))
    ax.set_xlabel("latent dim\n(blue: the two plotted)")
    ax.set_ylabel("variance / lengthscale^2")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_view_relevance_plot(path: Path, matrix: np.ndarray, names: list[str], title: str) -> None:
    """One bar chart per view of its ARD relevance over the latent dims (each row divided by its
    largest), as in the MRD paper's figures: shared dims have bars in several panels."""
    matrix = np.asarray(matrix, dtype=float)
    fig, axes = plt.subplots(
        1,
        len(names),
        figsize=(max(4.0, 2.2 + 1.2 * matrix.shape[1]) * min(len(names), 3) / 1.5, 3.2),
        squeeze=False,
        sharey=True,
    )
    for ax, name, row in zip(axes[0], names, matrix, strict=True):
        ax.bar(np.arange(len(row)), row, color="C0")
        ax.set(title=f"view {name}", xlabel="latent dim", xticks=np.arange(len(row)))
    axes[0][0].set_ylabel("relevance / largest")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_arviz_plot(path: Path, plot: Callable, tree, var_names: list[str], caption: str = "") -> None:
    """Draw an ArviZ plot (e.g. ``arviz.plot_trace_dist``) with matplotlib and save it as PNG.

    Every panel gets its variable's name on one line, the chains a legend, and the figure
    ``caption`` as its title.
    """
    collection = plot(tree, var_names=var_names, backend="matplotlib")
    try:  # ArviZ calls its legend API experimental: a plot without one is still worth saving
        collection.add_legend("chain")
    except (ValueError, KeyError, TypeError):
        pass
    figure = collection.get_viz("figure")
    figure = getattr(figure, "item", lambda: figure)()
    _name_panels(figure)
    if caption:
        figure.suptitle(textwrap.fill(caption, 110), fontsize="medium")
    collection.savefig(path, dpi=90)
    plt.close("all")


def _name_panels(figure) -> None:
    """Titles on one line, and a title for each unnamed panel from its row's named one (the trace
    plot names only its right-hand panels)."""
    axes = [ax for ax in figure.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    for ax in axes:
        ax.set_title(ax.get_title().replace("\n", " "), fontsize="small")
    rows: dict[float, list] = {}
    for ax in axes:
        rows.setdefault(round(ax.get_position().y0, 3), []).append(ax)
    for row in rows.values():
        names = [ax.get_ylabel() or ax.get_title() for ax in row]
        name = next((n for n in names if n), "")
        for ax in row:
            if not ax.get_title() and not ax.get_ylabel() and name:
                ax.set_title(name, fontsize="small")
            ax.tick_params(axis="x", labelsize="small")
    figure.set_layout_engine("tight", rect=(0, 0, 0.94, 0.93))  # room for the legend and caption
