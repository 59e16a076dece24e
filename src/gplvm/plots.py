"""Latent-space plots (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

MAX_LEGEND_LABELS = 20


def scatter_latents(ax, Z: np.ndarray, labels: np.ndarray | None, title: str) -> None:
    """Scatter the first two latent dims (or dim 0 against the row index when Q = 1)."""
    if Z.shape[1] >= 2:
        x, y, xlabel, ylabel = Z[:, 0], Z[:, 1], "latent dim 0", "latent dim 1"
    else:
        x, y, xlabel, ylabel = Z[:, 0], np.arange(len(Z)), "latent dim 0", "observation"
    if labels is None:
        ax.scatter(x, y, s=8, alpha=0.7)
    else:
        classes = np.unique(labels)
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for i, cls in enumerate(classes):
            keep = labels == cls
            ax.scatter(x[keep], y[keep], s=8, alpha=0.7, color=cmap(i % cmap.N), label=str(cls))
        if len(classes) <= MAX_LEGEND_LABELS:
            ax.legend(
                fontsize="small", markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False
            )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)


def save_latent_plot(path: Path, panels: list[tuple[str, np.ndarray]], labels: np.ndarray | None) -> None:
    """Write a PNG with one latent scatter per ``(title, Z)`` panel, side by side."""
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5), squeeze=False)
    for ax, (title, Z) in zip(axes[0], panels, strict=True):
        scatter_latents(ax, Z, labels, title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
