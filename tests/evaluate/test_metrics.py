"""Scalar summaries: the leave-one-out nearest-neighbour error."""

from __future__ import annotations

import numpy as np

from gplvm.evaluate.metrics import nearest_neighbour_error


def test_nearest_neighbour_error_by_hand():
    Z = np.array([[0.0], [0.1], [1.0], [1.15], [3.0]])
    labels = np.array(["a", "a", "b", "a", "b"])
    # Nearest others: 0->1 (a, right), 1->0 (a, right), 2->3 (a, wrong), 3->2 (b, wrong), 4->3 (a, wrong).
    assert nearest_neighbour_error(Z, labels) == 3 / 5


def test_separated_clusters_have_zero_error_and_duplicates_do_not_match_themselves():
    rng = np.random.default_rng(0)
    Z = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    labels = np.repeat(["x", "y"], 20)
    assert nearest_neighbour_error(Z, labels) == 0.0
    # Two identical points with different labels: each one's nearest other point is its twin.
    Z_dup = np.array([[0.0, 0.0], [0.0, 0.0], [9.0, 9.0], [9.5, 9.0]])
    assert nearest_neighbour_error(Z_dup, np.array(["p", "q", "r", "r"])) == 0.5


def test_procrustes_error_is_zero_for_a_rotated_scaled_shifted_truth_and_null_without_one():
    from gplvm.config import load_config
    from gplvm.data.loading import load_dataset
    from gplvm.evaluate.metrics import pca_baseline, procrustes_metrics
    from gplvm.model.spec import ModelSpec

    cfg = load_config("dataset=counts", "dataset.n_obs=200", "dataset.n_features=20", "model.noise=poisson")
    data = load_dataset(cfg.dataset)
    pca = pca_baseline(data, 2, ModelSpec.from_config(cfg.model))
    angle = 0.7
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = 3.0 * data.Z_true @ R + 5.0
    out = procrustes_metrics(moved, data, pca)
    assert out["procrustes_error"] < 1e-12
    assert 0 < out["pca_procrustes_error"] < 1
    noisy = data.Z_true + np.random.default_rng(0).standard_normal(data.Z_true.shape)
    assert procrustes_metrics(noisy, data, pca)["procrustes_error"] > 0.3
    assert procrustes_metrics(moved[:, :1], data, pca[:, :1]) == {}  # Q differs from the truth's dims
