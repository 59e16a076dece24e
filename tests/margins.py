"""Seeds and margins for the tests whose outcome depends on random draws.

A test that takes a ``seed`` argument runs with seed 0 by default and with seeds 0..N-1 under
``pytest --seeds N`` (``make test-seeds`` runs N = 10). Its thresholds go through the ``margin``
fixture, which asserts them and records each statistic, so that a run over many seeds ends with a
table of the worst value of each statistic against its threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest


@dataclass
class Statistic:
    """One thresholded statistic of one test, over the seeds it ran with."""

    threshold: float
    below: bool  # the statistic must stay below the threshold (else above it)
    values: dict[int, float] = field(default_factory=dict)

    def worst(self) -> tuple[int, float]:
        pick = max if self.below else min
        seed = pick(self.values, key=lambda s: self.values[s])
        return seed, self.values[seed]


MARGINS = pytest.StashKey[dict[tuple[str, str], Statistic]]()


class Margin:
    """Asserts a statistic against its threshold and records it for the seeds table."""

    def __init__(self, store: dict, test: str, seed: int) -> None:
        self.store, self.test, self.seed = store, test, seed

    def __call__(self, name: str, value: float, *, below: float | None = None, above: float | None = None):
        if (below is None) == (above is None):
            raise TypeError("give exactly one of below= and above=")
        threshold = below if below is not None else above
        stat = self.store.setdefault((self.test, name), Statistic(threshold, below is not None))
        stat.values[self.seed] = float(value)
        ok = value < threshold if below is not None else value > threshold
        assert ok and not math.isnan(value), (
            f"{name} = {value:.6g} is not {'below' if below is not None else 'above'} {threshold:g}"
        )


def table(store: dict[tuple[str, str], Statistic]) -> list[str]:
    """Markdown rows: test, statistic, threshold, worst value and its seed, seeds run."""
    rows = ["| test | statistic | threshold | worst (seed) | seeds |", "|---|---|---|---|---|"]
    for (test, name), stat in sorted(store.items()):
        seed, value = stat.worst()
        bound = f"{'<' if stat.below else '>'} {stat.threshold:g}"
        rows.append(f"| {test} | {name} | {bound} | {value:.4g} ({seed}) | {len(stat.values)} |")
    return rows
