"""Progress in the terminal and the log: an L-BFGS-B callback (with the stop at a tolerance), and
progress through the items of other long work."""

from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np

log = logging.getLogger(__name__)


class Progress:
    """An L-BFGS-B callback that logs iteration, objective, gradient and elapsed time every few seconds,
    and stops the optimiser once the objective has gained less than ``tol`` x |objective| over the
    last ``window`` iterations (``tol`` = 0: never).

    Logged to ``gplvm.inference.progress`` at INFO: the terminal and ``gplvm.log`` of a run show it,
    tests capture it. ``every`` = 0 keeps it quiet.
    """

    def __init__(
        self, objective, every: float, label: str = "MAP", tol: float = 0.0, window: int = 100
    ) -> None:
        self.objective = objective
        self.every = every
        self.label = label
        self.tol = tol
        self.window = window
        self.values: deque[float] = deque(maxlen=window + 1)  # the objective over the window
        self.iteration = 0
        self.start = self.last = time.perf_counter()

    def __call__(self, intermediate_result) -> None:
        self.iteration += 1
        value = float(intermediate_result.fun)
        if self.tol > 0:
            self.values.append(value)
            gain = self.values[0] - value
            if len(self.values) > self.window and gain <= self.tol * max(1.0, abs(value)):
                raise StopIteration  # L-BFGS-B then returns the current point
        now = time.perf_counter()
        if self.every <= 0 or now - self.last < self.every:
            return
        self.last = now
        gradient = getattr(self.objective, "last_gradient", np.zeros(1))
        log.info(
            "%s iteration %d: objective %.10g, largest |gradient| %.3g, %.1f s",
            self.label,
            self.iteration,
            float(intermediate_result.fun),
            float(np.max(np.abs(gradient))),
            now - self.start,
        )


class ItemProgress:
    """Progress through ``total`` items of long work (draws to score, rows to project): a line
    ``label: k of total, elapsed`` every ``every`` seconds, in the terminal and the log."""

    def __init__(self, total: int, label: str, every: float = 5.0) -> None:
        self.total = total
        self.label = label
        self.every = every
        self.done = 0
        self.start = self.last = time.perf_counter()

    def advance(self) -> None:
        """One more item done."""
        self.done += 1
        now = time.perf_counter()
        if self.every > 0 and now - self.last >= self.every and self.done < self.total:
            self.last = now
            log.info("%s: %d of %d, %.1f s", self.label, self.done, self.total, now - self.start)
