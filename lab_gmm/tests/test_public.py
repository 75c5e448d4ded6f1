"""Public tests of lab_gmm: quick checks you can run with `python -m pytest tests` (the
graded tests are more thorough)."""

import numpy as np
import pytest


@pytest.mark.points(0)
def test_e_step_rows_sum_to_one(submission):
    """E-step: gamma has shape (N, K) and rows summing to 1"""
    gmm = submission.GMM(2, 2)
    gmm.means = np.array([[0.0, 0.0], [3.0, 3.0]])
    gamma = gmm._e_step(np.random.default_rng(0).normal(size=(10, 2)))
    assert gamma.shape == (10, 2), f"gamma must have shape (10, 2); got {gamma.shape}"
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, atol=1e-8)


@pytest.mark.points(0)
def test_m_step_mixing_weights(submission):
    """M-step: pi is the mean responsibility of each component"""
    gmm = submission.GMM(2, 2)
    X = np.random.default_rng(1).normal(size=(8, 2))
    gamma = np.tile([0.25, 0.75], (8, 1))
    gmm._m_step(X, gamma)
    np.testing.assert_allclose(gmm.pi, [0.25, 0.75])
    np.testing.assert_allclose(gmm.means, np.tile(X.mean(axis=0), (2, 1)))


@pytest.mark.points(0)
def test_pca_shapes(submission):
    """PCA: components of shape (d, D) and the mean of X"""
    X = np.random.default_rng(2).normal(size=(50, 6))
    pca = submission.PCA(3)
    pca.fit(X)
    shape = pca.components.shape
    assert shape == (3, 6), f"components: expected shape (3, 6), got {shape}"
    np.testing.assert_allclose(pca.mean, X.mean(axis=0))


@pytest.mark.points(0)
def test_e_step_high_dimension_extension(submission):
    """Extension (0 points): E-step stays finite in D = 50, where every density underflows"""
    gmm = submission.GMM(2, 50)
    gmm.means = np.stack([np.zeros(50), np.full(50, 20.0)])
    X = np.vstack([np.random.default_rng(3).normal(size=(4, 50)), np.full((1, 50), 10.0)])
    with np.errstate(all="ignore"):
        gamma = gmm._e_step(X)
    assert np.isfinite(gamma).all(), (
        "gamma has NaN values: at the point halfway between the two components both densities "
        "are exp(-2500), which is 0 in float64, and 0 / 0 is NaN. Work with log densities and "
        "subtract the row maximum before exponentiating (README, section 1.1, extension).")
    np.testing.assert_allclose(gamma[-1], [0.5, 0.5], atol=1e-8)
    np.testing.assert_allclose(gamma[:4, 0], 1.0, atol=1e-8)
