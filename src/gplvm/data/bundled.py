"""The bundled datasets: synthetic draws from the linear model, a noisy arc, synthetic counts,
and scikit-learn's digits and iris (read from the files that scikit-learn ships)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from gplvm.config import CountsDatasetConfig, CurveDatasetConfig, SyntheticDatasetConfig
from gplvm.errors import DataError


def synthetic(cfg: SyntheticDatasetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw Y = Z W^T + noise with Z ~ N(0, I), W ~ N(0, I) and noise precision ``cfg.beta``.

    Each column of Y is then a draw from N(0, K) given Z, up to the scale of W.
    Returns Y, the latent positions Z and the seed-determined labels (the sign of Z[:, 0]).
    """
    rng = np.random.default_rng(cfg.seed)
    Z = rng.standard_normal((cfg.n_obs, cfg.latent_dim))
    W = rng.standard_normal((cfg.n_features, cfg.latent_dim))
    noise = rng.standard_normal((cfg.n_obs, cfg.n_features)) / np.sqrt(cfg.beta)
    labels = np.where(Z[:, 0] >= 0, "z0>=0", "z0<0")
    return Z @ W.T + noise, Z, labels


def curve(cfg: CurveDatasetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points at seeded random positions t along a circular arc of radius 1, plus noise.

    The arc lies in a random 2-D plane of the ``n_features``-dim space. Returns Y, the arc
    positions t in [0, 1] as Z_true (N x 1), and labels ``seg0``... numbering the equal segments.
    """
    rng = np.random.default_rng(cfg.seed)
    t = np.sort(rng.uniform(0.0, 1.0, cfg.n_obs))
    angle = np.deg2rad(cfg.arc_degrees) * t
    plane, _ = np.linalg.qr(rng.standard_normal((cfg.n_features, 2)))
    Y = np.column_stack([np.cos(angle), np.sin(angle)]) @ plane.T
    Y = Y + cfg.noise * rng.standard_normal(Y.shape)
    segment = np.minimum((t * cfg.n_segments).astype(int), cfg.n_segments - 1)
    return Y, t[:, None], np.array([f"seg{s}" for s in segment])


def counts(cfg: CountsDatasetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts y_nd with mean s_n exp(b_d + f_d(z_n)) from a known 2-D latent.

    z_n ~ N(0, I); the labels name ``n_sectors`` equal angular sectors of the plane around 0. Each
    f_d is a draw from the GPLVM's own prior, a GP with the rbf kernel (length scale 1, variance
    1), through 200 random Fourier features shared by the columns: smooth and non-linear
    everywhere, so that PCA of the log counts cannot straighten it. b_d sets the columns' levels
    around log ``mean_count``; log s_n ~ N(0, ``library_sd``^2). With a ``dispersion`` r the
    draws are negative binomial, variance mu + mu^2 / r. Returns the counts (as float), Z_true
    (N x 2) and the labels.
    """
    rng = np.random.default_rng(cfg.seed)
    # the map first, so that a seed's map is the same whatever n_obs
    n_fourier = 200
    frequencies = rng.standard_normal((2, n_fourier))  # rbf, length scale 1
    phases = rng.uniform(0.0, 2 * np.pi, n_fourier)
    weights = rng.standard_normal((n_fourier, cfg.n_features)) * np.sqrt(2.0 / n_fourier)
    level = np.log(cfg.mean_count) + 0.5 * rng.standard_normal(cfg.n_features)
    Z = rng.standard_normal((cfg.n_obs, 2))
    sector = np.floor((np.arctan2(Z[:, 1], Z[:, 0]) + np.pi) / (2 * np.pi) * cfg.n_sectors).astype(int)
    log_size = cfg.library_sd * rng.standard_normal(cfg.n_obs)
    rate = np.exp(log_size[:, None] + level + np.cos(Z @ frequencies + phases) @ weights)
    labels = np.array([f"sector{k}" for k in np.minimum(sector, cfg.n_sectors - 1)])
    if cfg.dispersion is None:
        return rng.poisson(rate).astype(float), Z, labels
    r = cfg.dispersion  # numpy's (n, p): mean n (1 - p) / p = rate when p = r / (r + rate)
    return rng.negative_binomial(r, r / (r + rate)).astype(float), Z, labels


IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def _sklearn_data(name: str) -> Path:
    """A data file that scikit-learn ships (``sklearn/datasets/data/<name>``), found without importing it.

    Importing ``sklearn.datasets`` takes about half a second, longer than reading the file.
    """
    spec = importlib.util.find_spec("sklearn")
    path = Path(next(iter(spec.submodule_search_locations or []), "")) / "datasets" / "data" / name
    if not path.is_file():
        raise DataError(f"scikit-learn's bundled {name} is missing ({path}); reinstall scikit-learn")
    return path


def load_digits_array() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's 8x8 digits (1797 x 64) as (data, labels "0"-"9", feature names pixel_r_c)."""
    table = np.loadtxt(_sklearn_data("digits.csv.gz"), delimiter=",")
    names = [f"pixel_{row}_{col}" for row in range(8) for col in range(8)]
    return table[:, :-1], table[:, -1].astype(int).astype(str), names


def load_iris_array() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's iris (150 x 4) as (data, species names, feature names)."""
    path = _sklearn_data("iris.csv")
    with path.open() as fh:
        species = np.array(fh.readline().strip().split(",")[2:])
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, :-1], species[table[:, -1].astype(int)], list(IRIS_FEATURES)


# Cells that mean "missing" in a CSV (besides NaN spelled out): empty, NA, N/A, null.
