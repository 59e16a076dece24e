"""Procrustes alignment and the PCA baseline."""

from __future__ import annotations

import numpy as np
import pytest

from gplvm import closed_form
from gplvm.align import align_to
from gplvm.baselines import pca_scores, subspace_angles_deg


@pytest.mark.parametrize("latent_dim", [1, 2, 4])
def test_alignment_undoes_rotations_and_reflections(latent_dim):
    rng = np.random.default_rng(latent_dim)
    Z = rng.standard_normal((25, latent_dim))
    R, _ = np.linalg.qr(rng.standard_normal((latent_dim, latent_dim)))
    R[:, 0] *= -1  # include a reflection
    np.testing.assert_allclose(align_to(Z @ R, Z), Z, atol=1e-12)


def test_analytic_optimum_spans_the_pca_subspace():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 10)) + 0.1 * rng.standard_normal((60, 10))
    Y -= Y.mean(axis=0)
    optimum = closed_form.analytic_optimum(Y, 2, beta=5.0, prior_scale=1.0)
    pca = pca_scores(Y, 2)
    assert subspace_angles_deg(optimum.Z, pca).max() < 1e-8
    # Same axes, each shrunk by l_i / sigma_i with l_i^2 = k_i - 1/beta.
    shrink = np.linalg.norm(optimum.Z, axis=0) / np.linalg.norm(pca, axis=0)
    np.testing.assert_allclose(align_to(optimum.Z, pca), pca * shrink, atol=1e-10)
