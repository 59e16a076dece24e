"""Data that stay on disk (``dataset.memory_map``): the mapped, chunk-centred data equal the data
loaded in memory, the chunked PCA and count statistics equal their whole-array forms, and bad
input is one line."""

from __future__ import annotations

import numpy as np
import pytest

import gplvm.data.on_disk as on_disk
from gplvm.config import FileDatasetConfig, load_config
from gplvm.data.loading import load_dataset
from gplvm.errors import ConfigError, DataError
from gplvm.inference.svi_counts import CountData
from gplvm.model.analytic import top_singular, top_singular_by_rows
from gplvm.model.count_model import initial_bias, initial_dispersion, size_factors
from gplvm.model.spec import ModelSpec


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few rows, so that every chunked pass crosses many chunk boundaries."""
    monkeypatch.setattr(on_disk, "CHUNK_BYTES", 8 * 7 * 5)  # 7 rows of 5 columns


@pytest.mark.parametrize("standardize", [False, True])
def test_a_mapped_file_loads_as_the_file_in_memory(tmp_path, small_chunks, standardize):
    raw = np.random.default_rng(0).normal(3.0, 2.0, (53, 5))
    path = tmp_path / "y.npy"
    np.save(path, raw)
    mapped = load_dataset(FileDatasetConfig(path=str(path), memory_map=True, standardize=standardize))
    loaded = load_dataset(FileDatasetConfig(path=str(path), standardize=standardize))
    assert isinstance(mapped.Y, np.memmap)
    np.testing.assert_allclose(mapped.Y, loaded.Y, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mapped.offset, loaded.offset, rtol=1e-13)
    np.testing.assert_allclose(mapped.scale, loaded.scale, rtol=1e-13)
    np.testing.assert_array_equal(mapped.raw, raw)  # the file, as written
    assert mapped.n_missing == 0


def test_mapped_counts_keep_their_integer_file(tmp_path, small_chunks):
    counts = np.random.default_rng(1).poisson(3.0, (40, 5)).astype(np.int32)
    path = tmp_path / "counts.npy"
    np.save(path, counts)
    data = load_dataset(FileDatasetConfig(path=str(path), memory_map=True, max_obs=30))
    assert data.raw.dtype == np.int32 and data.n_obs == 30
    np.testing.assert_array_equal(data.raw, counts[:30])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.nan, r"a missing \(NaN\) value at row 31, column 2"),
        (np.inf, r"an infinite value at row 31, column 2"),
    ],
)
def test_a_mapped_file_with_a_non_finite_cell_is_one_line(tmp_path, small_chunks, bad, message):
    raw = np.ones((40, 5))
    raw[31, 2] = bad
    np.save(tmp_path / "y.npy", raw)
    with pytest.raises(DataError, match=message):
        load_dataset(FileDatasetConfig(path=str(tmp_path / "y.npy"), memory_map=True))


def test_memory_map_needs_a_npy_file_without_views(tmp_path):
    np.savetxt(tmp_path / "y.csv", np.ones((3, 2)), delimiter=",", header="a,b", comments="")
    with pytest.raises(DataError, match=r"dataset.memory_map=true maps a \.npy file; y\.csv is not one"):
        load_dataset(FileDatasetConfig(path=str(tmp_path / "y.csv"), memory_map=True))
    with pytest.raises(ConfigError, match=r"dataset\.memory_map=True is invalid: views are scaled in memory"):
        load_config("dataset=file", "dataset.path=y.npy", "dataset.memory_map=true", "+dataset.views.a=0:1")
    with pytest.raises(ConfigError, match="cannot hold missing cells"):
        load_config("dataset=file", "dataset.path=y.npy", "dataset.memory_map=true", "dataset.missing=allow")


def test_top_singular_by_rows_equals_the_svd():
    """Above the SVD size the Gram route, summed over chunks of rows, gives the thin SVD's top
    singular values and vectors (up to sign)."""
    rng = np.random.default_rng(2)
    Y = (rng.standard_normal((20_000, 3)) * [5.0, 3.0, 1.0]) @ rng.standard_normal((3, 60))
    Y += 0.1 * rng.standard_normal(Y.shape)
    assert Y.nbytes > 8 * 2**20  # the Gram route
    U, sing = top_singular_by_rows(lambda rows: Y[rows], Y.shape, 3)
    U_svd, s_svd, _ = np.linalg.svd(Y, full_matrices=False)
    np.testing.assert_allclose(sing, s_svd[:3], rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(U * U_svd[:, :3], axis=0)), 1.0, atol=1e-10)
    _, s_small = top_singular(Y[:500], 3)  # below it, the thin SVD itself
    np.testing.assert_array_equal(top_singular_by_rows(lambda rows: Y[:500][rows], (500, 60), 3)[1], s_small)


def test_chunked_count_statistics_equal_their_whole_array_forms(small_chunks):
    """Size factors, the bias and dispersion starts and the log1p PCA, read by chunks of 7 rows,
    equal their formulas applied to the whole count matrix."""
    cfg = load_config("dataset=counts", "dataset.n_obs=60", "dataset.n_features=5", "model.noise=poisson")
    data = load_dataset(cfg.dataset)
    counts_data = CountData.of(data, ModelSpec.from_config(cfg.model))
    counts = counts_data.counts
    totals = counts.sum(axis=1)
    sizes = totals / np.median(totals)
    np.testing.assert_allclose(size_factors(counts), sizes, rtol=1e-13)
    np.testing.assert_allclose(initial_bias(counts, sizes), np.log((counts.sum(axis=0) + 0.5) / sizes.sum()))
    normalised = counts / sizes[:, None]
    mean, var = normalised.mean(axis=0), normalised.var(axis=0)
    expected = np.clip(mean**2 / np.maximum(var - mean, 1e-3 * np.maximum(mean, 1e-3)), 0.1, 1000.0)
    np.testing.assert_allclose(initial_dispersion(counts, sizes), expected, rtol=1e-12)
    g = np.log1p(normalised)
    g -= g.mean(axis=0)
    np.testing.assert_allclose(counts_data.normalised_rows(slice(0, 60)), g, atol=1e-13)
    _, sing = counts_data.pca(2)
    np.testing.assert_allclose(sing, np.linalg.svd(g, compute_uv=False)[:2], rtol=1e-12)
