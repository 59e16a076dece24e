"""The minibatch estimates of the uncollapsed bound that :mod:`gplvm.inference.svi` climbs.

Each objective compiles, once, the estimate (N / B) sum over a batch of B rows of (row term -
KL(q(z_n))) - KL(q(u)) + the learned hyperparameters' log priors, with its gradients with respect
to the parameters in :attr:`SVIObjective.names` (the batch rows' q(z_n), q(u), the inducing inputs
and the log hyperparameters), and the full-data bound without gradients, a chunk of rows at a
time. The state is a dict of NumPy arrays under those names; the rows' parameters ``mean`` and
``log_var`` are (N, Q), the others global.

:class:`GaussianObjective` integrates z_n in closed form through the kernel's psi statistics;
:class:`CountObjective` (Poisson and negative-binomial counts) by the reparameterisation trick.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.linalg import cholesky
from scipy import linalg as sla
from scipy.special import gammaln

from gplvm.config import Noise, PriorDist
from gplvm.data.on_disk import per_row
from gplvm.model.count_model import count_row_terms, whiten
from gplvm.model.expectations import expectations_of
from gplvm.model.spec import ModelSpec
from gplvm.model.uncollapsed_bound import optimal_q_u, q_u_kl, row_terms

ROW_PARAMETERS = ("mean", "log_var")
Q_U_PARAMETERS = ("q_mean", "chol_raw")
GLOBAL_PARAMETERS = (*Q_U_PARAMETERS, "inducing")
FULL_BOUND_CHUNK = 4096  # rows per call of the value-only full-data bound: memory O(chunk M^2)


def log_prior(value, prior) -> pt.TensorVariable:
    """Log density of a positive hyperparameter's prior at ``value`` (lognormal or half-normal),
    without the constants (they do not move the optimum)."""
    if prior.dist == PriorDist.lognormal:
        log_value = pt.log(value)
        return pt.sum(-log_value - 0.5 * ((log_value - prior.mu) / prior.sigma) ** 2)
    return pt.sum(-0.5 * (value / prior.sigma) ** 2)


def lower_cholesky(chol_raw):
    """L from its unconstrained form: the strict lower triangle as is, the diagonal exp'd."""
    return pt.tril(chol_raw, -1) + pt.diag(pt.exp(pt.diagonal(chol_raw)))


def raw_cholesky(chol: np.ndarray) -> np.ndarray:
    """The inverse of :func:`lower_cholesky`, in NumPy."""
    return np.tril(chol, -1) + np.diag(np.log(np.diag(chol)))


def cholesky_of_raw(chol_raw: np.ndarray) -> np.ndarray:
    """:func:`lower_cholesky` in NumPy."""
    return np.tril(chol_raw, -1) + np.diag(np.exp(np.diag(chol_raw)))


class SVIObjective:
    """The compiled minibatch estimate of the bound, its gradients and the full-data bound.

    Subclasses set :attr:`fn` (parameters, batch data, scale -> value and gradients),
    :attr:`row_part` (parameters, rows' data -> the rows' terms) and :attr:`shared` (global
    parameters -> -KL(q(u)) and the log priors).
    """

    has_optimal_q_u = False  # whether :meth:`optimal_q_u` gives q(u)'s optimum in closed form
    natural_q_u = False  # whether q(u) moves by :meth:`natural_step` rather than by Adam
    n_extra = 0
    extra_names: tuple[str, ...] = ()  # the objective's own parameters, after the shared ones

    def __init__(self, spec: ModelSpec, Y: np.ndarray, prior_scale: float, mode=None) -> None:
        self.spec = spec
        self.Y = Y  # read only by batches and chunks of rows
        self.prior_scale = prior_scale
        self.mode = mode
        self.learned = list(spec.learned)
        self.names = [*ROW_PARAMETERS, *GLOBAL_PARAMETERS, *(f"log_{n}" for n in self.learned)]

    def _inputs(self, spec: ModelSpec):
        """Symbolic parameters in :attr:`names` order, and the hyperparameters by name."""
        mean, log_var = pt.matrix("mean"), pt.matrix("log_var")
        q_mean, chol_raw, inducing = pt.matrix("q_mean"), pt.matrix("chol_raw"), pt.matrix("inducing")
        logs = {
            name: pt.tensor(f"log_{name}", shape=(None,) * np.ndim(spec.configured[name]))
            for name in self.learned
        }
        hyper = {name: pt.as_tensor(np.asarray(v, dtype=float)) for name, v in spec.configured.items()}
        hyper |= {name: pt.exp(log) for name, log in logs.items()}
        hyper["inducing"] = inducing
        return [mean, log_var, q_mean, chol_raw, inducing, *logs.values()], hyper

    def _kl_z(self, mean, log_var):
        s2 = self.prior_scale**2
        return 0.5 * pt.sum(pt.exp(log_var) / s2 + mean**2 / s2 - 1.0 - log_var + np.log(s2))

    def _priors(self, hyper):
        terms = [log_prior(hyper[n], self.spec.priors[n]) for n in self.learned]
        return sum(terms, pt.constant(0.0))

    def _compile(self, params, batch_inputs, rows, q_mean, chol, Kuu, hyper, extra=()) -> None:
        """Compile the step (value, gradients and ``extra`` outputs, kept as :attr:`last_extra`),
        the rows' terms and the shared terms."""
        kl_u = q_u_kl(q_mean, chol, Kuu)
        priors = self._priors(hyper)
        scale = pt.scalar("scale")
        objective = scale * rows - kl_u + priors
        grads = pt.grad(objective, params)
        self.n_extra = len(extra)
        self.fn = self._function([*params, *batch_inputs, scale], [objective, *grads, *extra])
        self.row_part = self._function([*params, *batch_inputs], rows)
        self.shared = self._function(params[2:], [-kl_u, priors])

    def _function(self, inputs, outputs):
        with warnings.catch_warnings():
            # the C backend's note that it found no BLAS to link: it runs, and is still the fastest
            warnings.filterwarnings("ignore", message=".*could not link to a BLAS")
            return pytensor.function(inputs, outputs, mode=self.mode, on_unused_input="ignore")

    def optimal_q_u(self, state: dict) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} has no closed-form optimal q(u)")

    def set_q_u(self, state: dict, mean: np.ndarray, chol: np.ndarray) -> None:
        """Put q(u) = N(mean, chol chol^T) into ``state`` (in the objective's parameterisation)."""
        state["q_mean"] = np.array(mean, dtype=float)
        state["chol_raw"] = raw_cholesky(chol)

    def q_u(self, state: dict) -> tuple[np.ndarray, np.ndarray]:
        """q(u)'s mean and lower Cholesky factor of its covariance, from ``state``."""
        return state["q_mean"], cholesky_of_raw(state["chol_raw"])

    def global_args(self, state: dict) -> list[np.ndarray]:
        return [state[name] for name in self.names[len(ROW_PARAMETERS) :]]

    def batch_data(self, rows) -> list[np.ndarray]:
        """The batch's data arguments (``rows`` an index array or a slice)."""
        return [np.asarray(self.Y[rows], dtype=float)]

    def step(self, state: dict, rows: np.ndarray, scale: float) -> tuple[float, list[np.ndarray]]:
        """The estimate at ``state`` from the batch ``rows`` (scaled by ``scale`` = N / B) and its
        gradients, in :attr:`names` order (the row parameters' for the batch rows only)."""
        value, *grads = self.fn(
            state["mean"][rows],
            state["log_var"][rows],
            *self.global_args(state),
            *self.batch_data(rows),
            scale,
        )
        if self.n_extra:
            grads, self.last_extra = grads[: -self.n_extra], grads[-self.n_extra :]
        return float(value), grads

    def full_bound(self, state: dict) -> tuple[float, float]:
        """The full-data bound at ``state`` (the ELBO) and the hyperparameters' log priors."""
        kl_u, priors = (float(v) for v in self.shared(*self.global_args(state)))
        total = kl_u
        for first in range(0, len(self.Y), FULL_BOUND_CHUNK):
            rows = slice(first, first + FULL_BOUND_CHUNK)
            total += float(
                self.row_part(
                    state["mean"][rows],
                    state["log_var"][rows],
                    *self.global_args(state),
                    *self.batch_data(rows),
                )
            )
        return total, priors


class GaussianObjective(SVIObjective):
    """Gaussian noise: each row's expected log likelihood in closed form from its psi statistics
    (:func:`gplvm.model.uncollapsed_bound.row_terms`)."""

    has_optimal_q_u = True
    natural_q_u = True

    def __init__(self, spec: ModelSpec, Y: np.ndarray, prior_scale: float, mode=None) -> None:
        super().__init__(spec, Y, prior_scale, mode)
        params, hyper = self._inputs(spec)
        mean, log_var, q_mean, chol_raw, inducing = params[:5]
        Y_batch = pt.matrix("Y")
        chol = lower_cholesky(chol_raw)
        variance = pt.exp(log_var)
        expectations = expectations_of(spec.kernel)
        psi0, Psi1, Psi2 = expectations.psi_statistics(mean, variance, inducing, hyper)
        Kuu = spec.form.K_uu(hyper)
        noise = spec.kernel.noise_variance(hyper)
        rows = row_terms(psi0, Psi1, Psi2, Y_batch, q_mean, chol, Kuu, noise) - self._kl_z(mean, log_var)
        # the batch's statistics for q(u)'s natural-gradient step
        extra = [Psi1.T @ Y_batch, Psi2, Kuu, noise]
        self._compile(params, [Y_batch], rows, q_mean, chol, Kuu, hyper, extra)
        # q(u)'s optimum needs Psi1^T Y and Psi2 summed over all rows, a chunk at a time
        self._stats = self._function(
            [mean, log_var, inducing, *params[5:], Y_batch], [Psi1.T @ Y_batch, Psi2]
        )
        psi1_y_sum, psi2_sum = pt.matrix("psi1_y_sum"), pt.matrix("psi2_sum")
        self._optimum = self._function(
            [psi1_y_sum, psi2_sum, inducing, *params[5:]], optimal_q_u(psi1_y_sum, psi2_sum, Kuu, noise)
        )

    def natural_step(self, state: dict, scale: float, step: float) -> None:
        """Move q(u) a share ``step`` of the way to the optimum that the last batch's statistics
        (scaled by N / B) imply, in natural parameters (Hensman, Fusi and Lawrence 2013).

        In the whitened coordinates v = L^-1 u (L L^T = K_uu), better conditioned than u's, the
        precision P = S_v^-1 and P m_v blend as (1 - step) x now + step x target, with target
        P* = I + scale L^-1 Psi2 L^-T / noise and (P m_v)* = scale L^-1 Psi1^T Y / noise. A step of
        1 with all rows in the batch is the optimum itself; unlike Adam, whose steps are
        normalised by the gradients' noise, it does not keep q(u) jittering around its optimum.
        """
        psi1_y, psi2, Kuu, noise = self.last_extra
        L_K = np.linalg.cholesky(Kuu)
        half = sla.solve_triangular(L_K, psi2, lower=True)
        target_precision = np.eye(len(L_K)) + scale * sla.solve_triangular(L_K, half.T, lower=True) / noise
        target_theta = scale * sla.solve_triangular(L_K, psi1_y, lower=True) / noise
        v_mean, v_chol = whiten(*self.q_u(state), L_K)
        precision = sla.cho_solve((v_chol, True), np.eye(len(v_chol)))
        theta = precision @ v_mean
        precision = (1 - step) * precision + step * target_precision
        theta = (1 - step) * theta + step * target_theta
        L_P = np.linalg.cholesky(0.5 * (precision + precision.T))
        covariance = sla.cho_solve((L_P, True), np.eye(len(L_P)))
        v_chol = np.linalg.cholesky(0.5 * (covariance + covariance.T))
        self.set_q_u(state, L_K @ (covariance @ theta), L_K @ v_chol)

    def optimal_q_u(self, state: dict) -> tuple[np.ndarray, np.ndarray]:
        """q(u)'s optimum (mean (M, D), lower Cholesky factor of S) for the state's q(Z) and
        hyperparameters: with Sigma = K_uu + Psi2 / noise, S = K_uu Sigma^-1 K_uu and
        m = K_uu Sigma^-1 Psi1^T Y / noise (Titsias's q(u), at which the bounds agree)."""
        logs = [state[f"log_{n}"] for n in self.learned]
        psi1_y, psi2 = 0.0, 0.0
        for first in range(0, len(self.Y), FULL_BOUND_CHUNK):
            rows = slice(first, first + FULL_BOUND_CHUNK)
            a, b = self._stats(
                state["mean"][rows], state["log_var"][rows], state["inducing"], *logs, *self.batch_data(rows)
            )
            psi1_y, psi2 = psi1_y + a, psi2 + b
        mean, chol = self._optimum(psi1_y, psi2, state["inducing"], *logs)
        return mean, chol


class CountObjective(SVIObjective):
    """Poisson or negative-binomial counts with a log link (:mod:`gplvm.model.count_model`).

    z_n is integrated by the reparameterisation z_n = mu_n + sd_n x eps_n, one fresh eps_n per row
    per step, so each step's estimate stays unbiased; the full-data bound uses one seeded eps per
    row, so it is itself a Monte Carlo estimate (its spread over seeds is far below the bound's
    changes that matter: see docs/model.md). Beside q(Z) and q(u) the parameters are each column's
    log level ``bias`` and, for the negative binomial, its ``log_dispersion``. q(u) is held
    whitened (see :func:`gplvm.model.count_model.f_moments`); :meth:`q_u` and :meth:`set_q_u`
    translate.
    """

    FULL_BOUND_SEED = 12345

    def __init__(
        self,
        spec: ModelSpec,
        counts: np.ndarray,
        log_size: np.ndarray,
        prior_scale: float,
        mode=None,
        seed: int = 0,
    ) -> None:
        super().__init__(spec, counts, prior_scale, mode)
        self.log_size = log_size
        self.noise = spec.noise
        self.rng = np.random.default_rng([seed, 2])
        self.extra_names = ("bias", *(("log_dispersion",) if spec.noise == Noise.negative_binomial else ()))
        self.names += self.extra_names
        params, hyper = self._inputs(spec)
        extras = [pt.vector(name) for name in self.extra_names]
        params += extras
        mean, log_var, q_mean, chol_raw, inducing = params[:5]
        Y_batch, log_size_batch, eps = pt.matrix("Y"), pt.vector("log_size"), pt.matrix("eps")
        log_factorials = pt.scalar("log_factorials")
        # each row's sum of log y! once, rather than a log-gamma of every cell at every step
        self.row_log_factorials = per_row(lambda block: gammaln(block + 1.0).sum(axis=1), counts)
        chol = lower_cholesky(chol_raw)
        Z = mean + pt.exp(0.5 * log_var) * eps
        Kfu = spec.kernel.cross(Z, inducing, hyper)
        kff = spec.kernel.diagonal(Z, hyper)
        L_K = cholesky(spec.form.K_uu(hyper), lower=True)
        dispersion = pt.exp(extras[1]) if len(extras) > 1 else None
        rows = count_row_terms(
            Kfu,
            kff,
            Y_batch,
            log_size_batch,
            q_mean,
            chol,
            L_K,
            extras[0],
            self.noise,
            dispersion,
            log_factorials,
        ) - self._kl_z(mean, log_var)
        # q(v) is whitened: its prior is N(0, I)
        identity = pt.eye(q_mean.shape[0])
        batch_inputs = [Y_batch, log_size_batch, eps, log_factorials]
        self._compile(params, batch_inputs, rows, q_mean, chol, identity, hyper)
        self._chol_kuu = self._function([inducing, *params[5 : 5 + len(self.learned)]], L_K)

    def _L_K(self, state: dict) -> np.ndarray:
        return self._chol_kuu(state["inducing"], *[state[f"log_{n}"] for n in self.learned])

    def set_q_u(self, state: dict, mean: np.ndarray, chol: np.ndarray) -> None:
        v_mean, v_chol = whiten(mean, chol, self._L_K(state))
        super().set_q_u(state, v_mean, v_chol)

    def q_u(self, state: dict) -> tuple[np.ndarray, np.ndarray]:
        L_K = self._L_K(state)
        v_mean, v_chol = super().q_u(state)
        return L_K @ v_mean, L_K @ v_chol

    def batch_data(self, rows) -> list[np.ndarray]:
        counts = np.asarray(self.Y[rows], dtype=float)
        eps = self.rng.standard_normal((len(counts), self.spec.latent_dim))
        log_factorials = float(np.sum(self.row_log_factorials[rows]))
        return [counts, np.asarray(self.log_size[rows], dtype=float), eps, log_factorials]

    def full_bound(self, state: dict) -> tuple[float, float]:
        """The full-data bound with one seeded eps per row (the same at every call)."""
        rng, self.rng = self.rng, np.random.default_rng(self.FULL_BOUND_SEED)
        try:
            return super().full_bound(state)
        finally:
            self.rng = rng
