"""Dataset loading: bundled data, user files, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest

from gplvm.config import DigitsDatasetConfig, FileDatasetConfig, IrisDatasetConfig, SyntheticDatasetConfig
from gplvm.data.heldout import split_features
from gplvm.data.loading import load_dataset
from gplvm.errors import ConfigError, DataError


def test_synthetic_is_seeded_centred_and_keeps_true_latents():
    cfg = SyntheticDatasetConfig(n_obs=30, n_features=6, latent_dim=3, seed=4)
    a, b = load_dataset(cfg), load_dataset(cfg)
    np.testing.assert_array_equal(a.Y, b.Y)
    assert a.Y.shape == (30, 6) and a.Z_true.shape == (30, 3)
    np.testing.assert_allclose(a.Y.mean(axis=0), 0, atol=1e-12)
    assert not np.array_equal(a.Y, load_dataset(SyntheticDatasetConfig(n_obs=30, n_features=6, seed=5)).Y)


@pytest.mark.parametrize(
    ("cfg", "shape", "n_classes"),
    [(DigitsDatasetConfig(), (1797, 64), 10), (IrisDatasetConfig(), (150, 4), 3)],
)
def test_bundled_datasets_load_with_labels(cfg, shape, n_classes):
    data = load_dataset(cfg)
    assert data.Y.shape == shape
    assert len(np.unique(data.labels)) == n_classes
    assert len(data.feature_names) == shape[1]
    np.testing.assert_allclose(data.Y.mean(axis=0), 0, atol=1e-10)


def test_standardize_and_max_obs():
    data = load_dataset(IrisDatasetConfig(standardize=True, max_obs=50))
    assert data.n_obs == 50 and len(data.labels) == 50
    np.testing.assert_allclose(data.Y.std(axis=0), 1.0, rtol=1e-12)


def test_csv_with_label_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,species,b\n1,x,2\n3,y,5\n5,x,4.5\n")
    data = load_dataset(FileDatasetConfig(path=str(path), label_column="species"))
    assert data.feature_names == ["a", "b"]
    np.testing.assert_array_equal(data.labels, ["x", "y", "x"])
    np.testing.assert_allclose(
        data.Y, [[-2, -1.833333333333], [0, 1.166666666667], [2, 0.666666666667]], rtol=1e-9
    )


def test_npy_and_npz(tmp_path):
    Y = np.arange(12.0).reshape(4, 3) ** 2
    np.save(tmp_path / "d.npy", Y)
    np.savez(tmp_path / "d.npz", Y=Y, labels=np.array(["a", "b", "a", "b"]))
    npy = load_dataset(FileDatasetConfig(path=str(tmp_path / "d.npy")))
    npz = load_dataset(FileDatasetConfig(path=str(tmp_path / "d.npz"), label_column="labels"))
    np.testing.assert_allclose(npy.Y, Y - Y.mean(axis=0))
    np.testing.assert_array_equal(npz.Y, npy.Y)
    assert list(npz.labels) == ["a", "b", "a", "b"]


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("empty.csv", "", "is empty"),
        ("header.csv", "a,b\n", "no data rows"),
        ("nan.csv", "a,b\n1,2\nnan,3\n", r"1 missing \(NaN\) value\(s\), first at row 1, column 0"),
        ("noheader.csv", "1,2\n3,4\n5,6\n", "line 1 is all numbers, not a header row"),
        ("blank.csv", "a,b\n1,2\n,\n3,4\n", r"line 3 has no observed value \(1 such rows\)"),
        ("nanrow.csv", "a,b\n1,2\n3,4\nNA,NA\n", r"line 4 has no observed value"),
        ("inf.csv", "a,b\n1,inf\n2,3\n", r"1 infinite value\(s\), first at row 0, column 1"),
        ("text.csv", "a,b\n1,2\n3,oops\n", r"line 3, column 'b': 'oops' is not a number"),
        ("ragged.csv", "a,b\n1,2\n3\n", "line 3 has 1 fields; the header has 2"),
        ("long.csv", "a,b\n1,2\n\n3,4,5\n", "line 4 has 3 fields; the header has 2"),
        ("cell.csv", "a,b\n1,\n2,3\n", r"missing \(NaN\) value\(s\), first at row 0, column 1"),
        ("data.txt", "1 2\n", "unsupported file type '.txt'"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, filename, content, message):
    path = tmp_path / filename
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        load_dataset(FileDatasetConfig(path=str(path)))
    assert "\n" not in str(info.value)


def test_bad_label_column_and_arrays(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match=r"label_column 'species' is not a column .* \['a', 'b'\]"):
        load_dataset(FileDatasetConfig(path=str(tmp_path / "d.csv"), label_column="species"))
    np.save(tmp_path / "d.npy", np.ones((3, 2)))
    with pytest.raises(DataError, match=r"needs a \.csv, \.parquet or \.npz"):
        load_dataset(FileDatasetConfig(path=str(tmp_path / "d.npy"), label_column="x"))
    np.save(tmp_path / "v.npy", np.ones(3))
    with pytest.raises(DataError, match=r"expected a 2-D array .* shape \(3,\)"):
        load_dataset(FileDatasetConfig(path=str(tmp_path / "v.npy")))
    np.savez(tmp_path / "d.npz", X=np.ones((3, 2)))
    with pytest.raises(DataError, match=r"no array 'Y' .* \['X'\]"):
        load_dataset(FileDatasetConfig(path=str(tmp_path / "d.npz")))


def test_split_features_is_seeded_and_keeps_columns_apart():
    data = load_dataset(SyntheticDatasetConfig(n_obs=10, n_features=10))
    train, held, names = split_features(data, 0.3, seed=1)
    again = split_features(data, 0.3, seed=1)
    assert (train.n_features, held.shape) == (7, (10, 3))
    assert names == again[2] and set(names).isdisjoint(train.feature_names)
    assert sorted(names + train.feature_names) == sorted(data.feature_names)
    for j, name in enumerate(names):
        np.testing.assert_array_equal(held[:, j], data.Y[:, data.feature_names.index(name)])
    assert split_features(data, 0.0, seed=1) == (data, None, [])
    assert split_features(data, 0.01, seed=1)[1].shape == (10, 1)  # at least one column


def test_split_features_refuses_to_hold_out_everything():
    data = load_dataset(SyntheticDatasetConfig(n_obs=10, n_features=2))
    with pytest.raises(ConfigError, match=r"heldout.fraction=0.9 would hold out all 2 features"):
        split_features(data, 0.9, seed=0)


def test_bundled_files_read_directly_equal_scikit_learns_loaders():
    """digits and iris are read from scikit-learn's files without importing sklearn.datasets."""
    from sklearn.datasets import load_digits, load_iris

    from gplvm.data.bundled import load_digits_array, load_iris_array

    for ours, theirs in ((load_digits_array(), load_digits()), (load_iris_array(), load_iris())):
        Y, labels, names = ours
        np.testing.assert_array_equal(Y, theirs.data)
        np.testing.assert_array_equal(labels, np.asarray(theirs.target_names)[theirs.target].astype(str))
        assert names == list(theirs.feature_names)


def test_parquet_reads_like_the_csv(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"a": [1.0, 3.0, 5.0], "species": ["x", "y", "x"], "b": [2, 5, 4]})
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_csv(tmp_path / "d.csv", index=False)
    parquet = load_dataset(FileDatasetConfig(path=str(tmp_path / "d.parquet"), label_column="species"))
    csv = load_dataset(FileDatasetConfig(path=str(tmp_path / "d.csv"), label_column="species"))
    np.testing.assert_array_equal(parquet.Y, csv.Y)
    assert parquet.feature_names == csv.feature_names == ["a", "b"]
    np.testing.assert_array_equal(parquet.labels, ["x", "y", "x"])
    with pytest.raises(DataError, match=r"column 'species' holds (object|str), not numbers"):
        load_dataset(FileDatasetConfig(path=str(tmp_path / "d.parquet")))
    frame.loc[1, "a"] = None
    frame.to_parquet(tmp_path / "null.parquet")
    with pytest.raises(DataError, match=r"1 missing \(NaN\) value\(s\), first at row 1, column 0"):
        load_dataset(FileDatasetConfig(path=str(tmp_path / "null.parquet"), label_column="species"))


def test_csv_cells_may_be_quoted_or_padded(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,"b"\n"1", 2\n 3 ,4e0\n\n')
    data = load_dataset(FileDatasetConfig(path=str(path)))
    assert data.feature_names == ["a", "b"]
    np.testing.assert_allclose(data.Y, [[-1.0, -1.0], [1.0, 1.0]])
