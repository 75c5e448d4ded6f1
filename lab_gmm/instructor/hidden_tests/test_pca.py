"""Hidden tests of PCA.fit (8 points)."""

import numpy as np
import pytest
from gmm_reference import flat_images
from problems import SEED, call_in_sandbox, describe
from received import received_array, received_tuple
from sklearn.decomposition import PCA as SklearnPCA

DIM = 20


@pytest.fixture(scope="module")
def digits():
    X, _ = flat_images("train")
    rows = np.random.default_rng(900 + SEED).choice(len(X), size=1000, replace=False)
    return X[rows]


@pytest.fixture(scope="module")
def sklearn_pca(digits):
    return SklearnPCA(DIM, svd_solver="full").fit(digits)


def _fitted(submission, X, dim):
    pca = submission.PCA(dim)
    pca.fit(X)
    components, mean = pca.components, pca.mean
    d = X.shape[1]
    assert isinstance(components, np.ndarray), (
        f"after fit, self.components must be an array of shape ({dim}, {d}); it is "
        f"{describe(components)}")
    if components.shape == (d, dim):
        raise AssertionError(
            f"self.components has shape {components.shape}: the eigenvectors are columns. Store "
            f"them as rows, shape (d, D) = ({dim}, {d}) (transpose the selected eigenvectors).")
    components = received_array("self.components (d, D) after fit", components, (dim, d))
    mean = received_array("self.mean (the mean of X) after fit", mean, (d,))
    return pca, components, mean


@pytest.mark.points(3)
@pytest.mark.time_limit(30)
@pytest.mark.hint("The variance along the i-th component is the i-th largest eigenvalue of the "
                  "covariance: sort the eigenvalues of np.linalg.eigh in decreasing order.")
def test_pca_explained_variance(submission, digits, sklearn_pca):
    """PCA: the variance along each component matches scikit-learn (1,000 digits, d = 20)"""
    _, components, mean = _fitted(submission, digits, DIM)
    off = np.abs(mean - digits.mean(axis=0)).max()
    assert off < 1e-10, (
        f"self.mean differs from the mean of X over the samples by up to {off:.3g}: it must be "
        "X.mean(axis=0), shape (D,)")
    variance = ((digits - digits.mean(axis=0)) @ components.T).var(axis=0, ddof=1)
    want = sklearn_pca.explained_variance_
    shown = f"{np.round(variance[:5], 4)}..."
    if variance[-1] > variance[0] and np.all(np.diff(variance) >= 0):
        raise AssertionError(
            f"the variances along your components are {shown}: they increase from the first "
            "component to the last. np.linalg.eigh returns eigenvalues in ascending order: keep "
            "the eigenvectors of the d largest, largest first.")
    if variance.sum() < 0.5 * want.sum():
        raise AssertionError(
            f"the variances along your components are {shown}: less than half of what the d "
            "directions of largest variance hold. np.linalg.eigh returns eigenvalues in "
            "ascending order: keep the eigenvectors of the d largest, largest first.")
    errors = np.abs(variance - want) / want[0]
    worst = int(np.argmax(errors))
    assert errors[worst] < 1e-6, (
        f"the variance along your component {worst} (counted from 0) is off by "
        f"{errors[worst]:.3g} of the largest eigenvalue (tolerance 1e-6). Your variances: "
        f"{shown}; component i must be the direction of the i-th largest variance, i.e. the "
        "eigenvectors of the d largest eigenvalues, largest first.")


@pytest.mark.points(3)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Use the eigenvectors of the covariance matrix of the centred data, as rows; "
                  "either sign of an eigenvector is fine.")
def test_pca_components(submission, digits, sklearn_pca):
    """PCA: orthonormal components, as rows, equal to scikit-learn's up to sign"""
    _, components, _ = _fitted(submission, digits, DIM)
    gram = components @ components.T
    assert np.abs(gram - np.eye(DIM)).max() < 1e-8, (
        "the rows of self.components are not orthonormal (components @ components.T is not I)")
    overlap = np.abs(np.sum(components * sklearn_pca.components_, axis=1))
    assert overlap.min() > 1 - 1e-6, (
        f"component {int(np.argmin(overlap))} is not the expected principal direction "
        f"(|cosine| = {overlap.min():.4f}; either sign is accepted)")


@pytest.mark.points(1)
@pytest.mark.time_limit(20)
@pytest.mark.hint("With d equal to the rank of the data, PCA loses nothing: "
                  "inverse_transform(transform(X)) gives X back.")
def test_pca_reconstructs_low_rank_data(submission):
    """PCA: rank-5 data in D = 30 is reconstructed exactly from d = 5 components"""
    rng = np.random.default_rng(1000 + SEED)
    X = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 30)) + rng.normal(size=30)
    pca, _, _ = _fitted(submission, X, 5)
    Z = received_array("transform(X)", pca.transform(X), (200, 5))
    back = received_array("inverse_transform(transform(X))", pca.inverse_transform(Z), X.shape)
    worst = np.abs(back - X).max()
    assert worst < 1e-8, f"inverse_transform(transform(X)) differs from X by up to {worst:.3g}"


@pytest.mark.points(1)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Centre a copy (X - self.mean), never X itself (X -= ...).")
def test_pca_keeps_input(submission, fixed):
    """PCA.fit leaves X unchanged"""
    X = np.random.default_rng(1100 + SEED).normal(size=(100, 12)) + 3.0
    pca = submission.PCA(4)
    _, args = call_in_sandbox(fixed, pca.fit, X)
    (X_after,) = received_tuple("the arguments of PCA.fit, read back", args, 1)
    X_after = received_array("X after PCA.fit(X)", X_after, X.shape, finite=False)
    assert np.array_equal(X_after, X), "PCA.fit modified its argument X in place"
