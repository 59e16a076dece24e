"""Minibatch stochastic variational inference: Adam on an unbiased estimate of the uncollapsed bound.

Each epoch visits every row once, in a seeded order, in batches of B rows; each step estimates the
bound from its batch (:mod:`gplvm.inference.svi_objectives`) and takes an Adam step on the batch
rows' q(z_n) and on the global parameters. The step size is cut by ``decay`` at each plateau of
the smoothed bound (the mean over ``window`` epochs of the steps' estimates); a plateau at the
smallest step size is convergence. Memory is O(B M^2 + M D) per step beside the parameters;
nothing of size N x N or N x M^2 is formed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from gplvm.config import SVIConfig
from gplvm.errors import NumericalError
from gplvm.inference.svi_objectives import Q_U_PARAMETERS, ROW_PARAMETERS, SVIObjective

log = logging.getLogger(__name__)

ADAM_BETAS = (0.9, 0.999)


@dataclass(frozen=True)
class Schedule:
    """Batch size, the epoch cap, the step sizes and the plateau rule (see :class:`SVIConfig`)."""

    batch_size: int
    epochs: int
    learning_rate: float
    decay: float = 0.1
    min_rate_share: float = 0.01
    tol: float = 5e-4
    window: int = 10
    progress_seconds: float = 0.0
    row_rate_scale: float = 5.0  # the rows' q(z_n) step size over the global parameters'
    natural_step: float = 0.1  # q(u)'s natural-gradient step (Gaussian), cut with the step size

    @classmethod
    def from_config(cls, cfg: SVIConfig, n_obs: int) -> Schedule:
        return cls(
            batch_size=min(cfg.batch_size, n_obs),
            epochs=cfg.epochs,
            learning_rate=cfg.learning_rate,
            row_rate_scale=cfg.row_rate_scale,
            natural_step=cfg.natural_step,
            decay=cfg.decay,
            min_rate_share=cfg.min_rate_share,
            tol=cfg.tol,
            window=cfg.tol_window,
            progress_seconds=cfg.progress_seconds,
        )


@dataclass
class Trace:
    """Per epoch: the mean of the steps' bound estimates and the step size; and how it ended."""

    bounds: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    steps: int = 0
    converged: bool = False
    verdict: str = "epoch cap reached"
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.bounds)


def _adam(value, grad, moments, step: int, lr: float) -> np.ndarray:
    """One Adam ascent step on ``value`` (moments updated in place)."""
    b1, b2 = ADAM_BETAS
    moments[0] *= b1
    moments[0] += (1 - b1) * grad
    moments[1] *= b2
    moments[1] += (1 - b2) * grad**2
    m_hat = moments[0] / (1 - b1**step)
    v_hat = moments[1] / (1 - b2**step)
    return value + lr * m_hat / (np.sqrt(v_hat) + 1e-8)


class _Plateau:
    """The step size's schedule: cut by ``decay`` when the ``window``-epoch mean of the bound gains
    less than ``tol`` x |mean| on the window before; a plateau at the floor ends the run."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.rate = schedule.learning_rate
        self.floor = schedule.learning_rate * schedule.min_rate_share * (1 + 1e-9)
        self.since = 0  # epochs since the last cut

    @property
    def share(self) -> float:
        """The step size now, as a share of the first."""
        return self.rate / self.schedule.learning_rate

    def after_epoch(self, bounds: list[float]) -> bool:
        """Update the rate after an epoch; True once converged."""
        self.since += 1
        w = self.schedule.window
        if self.schedule.tol <= 0 or self.since < 2 * w:
            return False
        recent, before = np.mean(bounds[-w:]), np.mean(bounds[-2 * w : -w])
        if recent - before >= self.schedule.tol * max(1.0, abs(recent)):
            return False
        if self.rate <= self.floor:
            return True
        self.rate = max(self.rate * self.schedule.decay, self.floor)
        self.since = 0
        return False


def climb(objective: SVIObjective, state: dict, schedule: Schedule, seed: int, label: str = "SVI") -> Trace:
    """Adam on ``objective``'s minibatch estimates, updating ``state`` in place, until the plateau
    rule converges or ``schedule.epochs`` have run. Progress goes to the log every
    ``schedule.progress_seconds`` (0: quiet): epoch, smoothed bound, step size, rows/s, elapsed."""
    n_obs = len(state["mean"])
    names = objective.names
    moments = {n: [np.zeros_like(state[n]), np.zeros_like(state[n])] for n in names}
    rng = np.random.default_rng(seed)
    plateau = _Plateau(schedule)
    trace = Trace()
    began = last_log = time.perf_counter()
    for epoch in range(1, schedule.epochs + 1):
        order = rng.permutation(n_obs)
        estimates = []
        for first in range(0, n_obs, schedule.batch_size):
            rows = np.sort(order[first : first + schedule.batch_size])  # sorted: Y read in memory order
            trace.steps += 1
            value, grads = objective.step(state, rows, n_obs / len(rows))
            if not np.isfinite(value):
                raise NumericalError(
                    f"the bound's minibatch estimate is {value} at epoch {epoch}: the fit diverged;"
                    f" lower inference.learning_rate (now {schedule.learning_rate:g})"
                )
            estimates.append(value)
            if objective.natural_q_u:
                objective.natural_step(state, n_obs / len(rows), schedule.natural_step * plateau.share)
            for name, grad in zip(names, grads, strict=True):
                if objective.natural_q_u and name in Q_U_PARAMETERS:
                    continue
                # Only the batch rows' q(z_n) move. Their Adam bias correction uses the global
                # step, which damps a row's first updates: on the curve that ended higher than
                # per-row step counts did (3137 against 3105, an earlier schedule).
                if name in ROW_PARAMETERS:
                    part = [moments[name][0][rows], moments[name][1][rows]]
                    row_rate = plateau.rate * schedule.row_rate_scale
                    state[name][rows] = _adam(state[name][rows], grad, part, trace.steps, row_rate)
                    moments[name][0][rows], moments[name][1][rows] = part
                else:
                    state[name] = _adam(state[name], grad, moments[name], trace.steps, plateau.rate)
        trace.bounds.append(float(np.mean(estimates)))
        trace.rates.append(plateau.rate)
        rate = plateau.rate
        done = plateau.after_epoch(trace.bounds)
        if (done or plateau.rate < rate) and objective.has_optimal_q_u:
            # q(u) to its optimum for the current q(Z) (one pass over the rows): the bound can
            # only rise
            objective.set_q_u(state, *objective.optimal_q_u(state))
        now = time.perf_counter()
        if schedule.progress_seconds > 0 and (now - last_log >= schedule.progress_seconds or done):
            last_log = now
            smoothed = np.mean(trace.bounds[-schedule.window :])
            log.info(
                "%s epoch %d (cap %d): bound %.8g (mean of %d epochs), step size %.3g, %s rows/s, %.1f s",
                label,
                epoch,
                schedule.epochs,
                smoothed,
                min(schedule.window, epoch),
                trace.rates[-1],
                f"{epoch * n_obs / (now - began):,.0f}",
                now - began,
            )
        if done:
            trace.converged = True
            trace.verdict = (
                f"the {schedule.window}-epoch mean of the bound gained less than {schedule.tol:g} x |bound|"
                f" at the smallest step size ({plateau.floor / (1 + 1e-9):.3g})"
            )
            break
    trace.seconds = time.perf_counter() - began
    return trace


@dataclass
class SVIFit:
    """q(Z), q(u), the hyperparameters, the full-data bound at the end and the climb's trace."""

    mean: np.ndarray
    variance: np.ndarray
    q_u_mean: np.ndarray
    q_u_chol: np.ndarray
    hyper: dict[str, np.ndarray]
    elbo: float  # the full-data bound (without the hyperparameters' log priors)
    log_prior: float  # the learned hyperparameters' log priors (without constants)
    trace: Trace
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # the objective's own, e.g. bias


def initial_state(objective: SVIObjective, start: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The climb's state from ``start``: ``Z_mean``, ``Z_var``, ``inducing`` and, optionally,
    ``q_u_mean`` and ``q_u_chol`` (by default q(u)'s optimum at the start, when the objective has
    one); hyperparameters start at the spec's values."""
    spec = objective.spec
    state = {
        "mean": np.array(start["Z_mean"], dtype=float),
        "log_var": np.log(start["Z_var"]),
        "inducing": np.array(start["inducing"], dtype=float),
        **{f"log_{n}": np.log(np.asarray(spec.configured[n], dtype=float)) for n in objective.learned},
    }
    for name in objective.extra_names:  # the objective's own parameters (a count model's bias)
        state[name] = np.array(start[name], dtype=float)
    if "q_u_mean" in start:
        objective.set_q_u(state, start["q_u_mean"], start["q_u_chol"])
    else:
        objective.set_q_u(state, *objective.optimal_q_u(state))
    return state


def fit_svi(
    objective: SVIObjective, start: dict[str, np.ndarray], schedule: Schedule, seed: int = 0
) -> SVIFit:
    """Climb ``objective`` from ``start`` (see :func:`initial_state`) and return the fit."""
    state = initial_state(objective, start)
    trace = climb(objective, state, schedule, seed)
    elbo, log_prior = objective.full_bound(state)
    hyper = {n: np.exp(state[f"log_{n}"]) for n in objective.learned}
    return SVIFit(
        state["mean"],
        np.exp(state["log_var"]),
        *objective.q_u(state),
        {**objective.spec.configured, **hyper, "inducing": state["inducing"]},
        elbo,
        log_prior,
        trace,
        {name: state[name] for name in objective.extra_names},
    )
