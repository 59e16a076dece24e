"""The data, start and draw scores of an ``inference=svi`` fit with a count likelihood.

The counts are the data as read (a run centres its data; the centring is undone here and the
cells checked to be non-negative integers). The start: q's means at the PCA scores of the
log1p-normalised counts (each row divided by its size factor), q(u) at the Gaussian posterior of u
given those centred values, each column's bias at its log level and the negative binomial's
dispersion by moments (:mod:`gplvm.model.count_model`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import xarray as xr

from gplvm.config import Init, Noise
from gplvm.data.dataset import Dataset
from gplvm.data.on_disk import row_chunks
from gplvm.inference.progress import ItemProgress
from gplvm.inference.svi import SVIFit
from gplvm.model.analytic import top_singular_by_rows
from gplvm.model.count_model import (
    check_counts,
    column_bounds,
    column_constants,
    column_moments,
    counts_of,
    initial_bias,
    initial_dispersion,
    log1p_rows,
    size_factors,
)
from gplvm.model.spec import ModelSpec


@dataclass
class CountData:
    """The counts (N, D) and each row's log size factor (N,).

    The counts may be a memory-mapped file (``dataset.memory_map``): everything here reads them by
    chunks of rows.
    """

    counts: np.ndarray
    log_size: np.ndarray

    @classmethod
    def of(cls, data: Dataset, spec: ModelSpec) -> CountData:
        """The counts of ``data``, or a one-line DataError naming a negative or non-integer cell
        (or an empty row, with size factors). Counts kept as read (``data.raw``) are used as they
        are; otherwise they are the centred data back in the file's units, rounded."""
        names = list(data.feature_names)
        if data.raw is not None:
            check_counts(data.raw, names, spec.noise)
            counts = data.raw
        else:
            counts = counts_of(data.to_original_units(data.Y), names, spec.noise)
        sizes = size_factors(counts) if spec.size_factors else np.ones(len(counts))
        return cls(counts, np.log(sizes))

    @functools.cached_property
    def _log1p_mean(self) -> np.ndarray:
        sizes = np.exp(self.log_size)
        mean, _ = column_moments(self.counts, lambda rows: log1p_rows(self.counts, sizes, rows))
        return mean

    def normalised_rows(self, rows: slice) -> np.ndarray:
        """log1p of the size-normalised counts of ``rows``, centred per column (over all rows)."""
        return log1p_rows(self.counts, np.exp(self.log_size), rows) - self._log1p_mean

    def pca(self, latent_dim: int) -> tuple[np.ndarray, np.ndarray]:
        """The top ``latent_dim`` left singular vectors and values of the normalised counts."""
        return top_singular_by_rows(self.normalised_rows, self.counts.shape, latent_dim)

    def starting_point(self, spec: ModelSpec, init: Init, seed: int) -> dict[str, np.ndarray]:
        """``Z_mean``, ``inducing``, ``q_u_mean``, ``q_u_chol``, ``bias`` and, for the negative
        binomial, ``log_dispersion``."""
        n_obs, n_features = self.counts.shape
        if init == Init.pca:
            U, _ = self.pca(spec.latent_dim)
            Z0 = U * np.sqrt(n_obs)
        else:
            Z0 = spec.prior_scale * np.random.default_rng(seed).standard_normal((n_obs, spec.latent_dim))
        inducing = spec.form.initial_parameters(Z0, seed)["inducing"]
        hyper = {**spec.configured, "inducing": inducing}
        Kuu = spec.form.K_uu_np(hyper)
        # u's Gaussian posterior given g = f + unit-variance noise: a start near the data's shape
        KufKfu, Kuf_g = np.zeros_like(Kuu), np.zeros((len(Kuu), n_features))
        for rows in row_chunks(self.counts.shape):
            Kfu = spec.kernel.cross_np(Z0[rows], inducing, hyper)
            KufKfu += Kfu.T @ Kfu
            Kuf_g += Kfu.T @ self.normalised_rows(rows)
        Sigma = Kuu + KufKfu
        S = Kuu @ np.linalg.solve(Sigma, Kuu)
        sizes = np.exp(self.log_size)
        start = {
            "Z_mean": Z0,
            "inducing": inducing,
            "q_u_mean": Kuu @ np.linalg.solve(Sigma, Kuf_g),
            "q_u_chol": np.linalg.cholesky(0.5 * (S + S.T) + 1e-10 * np.trace(S) / len(S) * np.eye(len(S))),
            "bias": initial_bias(self.counts, sizes),
        }
        if spec.noise == Noise.negative_binomial:
            start["log_dispersion"] = np.log(initial_dispersion(self.counts, sizes))
        return start

    def draw_columns(self, posterior: xr.Dataset, fit: SVIFit, spec: ModelSpec) -> np.ndarray:
        """Each column's bound at every draw of Z (chain, draw, feature): its log_likelihood group."""
        Z = posterior["Z"].values
        draws = Z.reshape(-1, *Z.shape[-2:])
        Kuu = spec.form.K_uu_np(fit.hyper)
        dispersion = fit.extra.get("log_dispersion")
        dispersion = None if dispersion is None else np.exp(dispersion)
        constants = column_constants(self.counts, spec.noise, dispersion)
        progress = ItemProgress(len(draws), "scoring draws of Z per column (the log_likelihood group)")
        columns = []
        for z in draws:
            columns.append(
                column_bounds(
                    z,
                    self.counts,
                    self.log_size,
                    spec.kernel,
                    fit.hyper,
                    Kuu,
                    (fit.q_u_mean, fit.q_u_chol),
                    fit.extra["bias"],
                    spec.noise,
                    dispersion,
                    constants=constants,
                )
            )
            progress.advance()
        return np.reshape(columns, (*Z.shape[:2], self.counts.shape[1]))
