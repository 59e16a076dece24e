"""Procrustes alignment and the PCA baseline."""

from __future__ import annotations

import numpy as np
import pytest

from gplvm.evaluate.align import align_draws, align_to, procrustes_rotations
from gplvm.evaluate.baselines import pca_scores, subspace_angles_deg
from gplvm.model import analytic


def random_orthogonal(rng: np.random.Generator, q: int, reflect: bool) -> np.ndarray:
    R, _ = np.linalg.qr(rng.standard_normal((q, q)))
    if reflect:
        R[:, 0] *= -1
    return R


@pytest.mark.parametrize("latent_dim", [1, 2, 4])
@pytest.mark.parametrize("reflect", [False, True])
def test_alignment_undoes_rotations_and_reflections(latent_dim, reflect):
    rng = np.random.default_rng(latent_dim)
    Z = rng.standard_normal((25, latent_dim))
    R = random_orthogonal(rng, latent_dim, reflect)
    np.testing.assert_allclose(align_to(Z @ R, Z), Z, atol=1e-12)
    np.testing.assert_allclose(procrustes_rotations(Z @ R, Z), R.T, atol=1e-12)


def test_align_draws_recovers_rotated_copies_with_zero_residual():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((30, 3))
    rotations = [random_orthogonal(rng, 3, reflect=bool(i % 2)) for i in range(2 * 5)]
    draws = np.stack([Z @ R for R in rotations]).reshape(2, 5, 30, 3)
    start = Z @ random_orthogonal(rng, 3, reflect=True)  # the reference itself is arbitrary
    result = align_draws(draws, start)
    for aligned in result.aligned.reshape(-1, 30, 3):
        np.testing.assert_allclose(aligned, result.reference, atol=1e-12)
    np.testing.assert_allclose(result.residual, 0.0, atol=1e-12)
    assert analytic.gram_relative_error(result.reference, Z) < 1e-12


def test_generalised_procrustes_reference_is_the_aligned_mean():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((20, 2))
    noisy = np.stack(
        [(Z + 0.1 * rng.standard_normal(Z.shape)) @ random_orthogonal(rng, 2, False) for _ in range(8)]
    )
    result = align_draws(noisy.reshape(2, 4, 20, 2), Z)
    np.testing.assert_allclose(result.aligned.mean(axis=(0, 1)), result.reference, atol=1e-8)
    assert result.iterations >= 1
    assert np.all(result.residual > 0.01) and np.all(result.residual < 0.5)
    single = align_draws(noisy.reshape(2, 4, 20, 2), Z, generalized=False)
    assert single.iterations == 0
    np.testing.assert_array_equal(single.reference, Z)


def test_analytic_optimum_spans_the_pca_subspace():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 10)) + 0.1 * rng.standard_normal((60, 10))
    Y -= Y.mean(axis=0)
    optimum = analytic.analytic_optimum(Y, 2, beta=5.0, prior_scale=1.0)
    pca = pca_scores(Y, 2)
    assert subspace_angles_deg(optimum.Z, pca).max() < 1e-8
    # Same axes, each shrunk by l_i / sigma_i with l_i^2 = k_i - 1/beta.
    shrink = np.linalg.norm(optimum.Z, axis=0) / np.linalg.norm(pca, axis=0)
    np.testing.assert_allclose(align_to(optimum.Z, pca), pca * shrink, atol=1e-10)


def test_pca_scores_of_centred_data_skip_the_copy_and_agree():
    rng = np.random.default_rng(3)
    Y = rng.standard_normal((80, 6)) @ rng.standard_normal((6, 6)) + 5.0
    centred = Y - Y.mean(axis=0)
    np.testing.assert_allclose(pca_scores(centred, 3, centred=True), pca_scores(Y, 3), atol=1e-10)
