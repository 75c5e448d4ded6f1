"""The reference solution and the given code of lab_gmm (fast, offline)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.decomposition import PCA as SklearnPCA
from sklearn.mixture import GaussianMixture

from common.artifacts import ArtifactError
from common.data import load_mnist
from grading.solution_markers import stub_source

from .conftest import LAB_DIR


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    images, _ = load_mnist("sample", "train")
    return images.reshape(len(images), -1).astype(np.float64)


def test_stub_is_generated_from_the_solution():
    solution = (LAB_DIR / "instructor" / "solution.py").read_text()
    assert (LAB_DIR / "submission.py").read_text() == stub_source(solution, "lab_gmm")


def test_pca_matches_sklearn_explained_variance(ref, digits):
    pca = ref.PCA(50)
    pca.fit(digits)
    variance = pca.transform(digits).var(axis=0, ddof=1)
    want = SklearnPCA(50, svd_solver="full").fit(digits).explained_variance_
    np.testing.assert_allclose(variance, want, rtol=0, atol=1e-8)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(50), atol=1e-10)


def _sklearn_from_labels(Z, labels, k, max_iter):
    resp = np.eye(k)[labels]
    nk = resp.sum(axis=0)
    means = resp.T @ Z / nk[:, None]
    covs = np.stack([(resp[:, j, None] * (Z - means[j])).T @ (Z - means[j]) / nk[j]
                     + 1e-6 * np.eye(Z.shape[1]) for j in range(k)])
    return GaussianMixture(k, covariance_type="full", reg_covar=1e-6, max_iter=max_iter,
                           weights_init=nk / len(Z), means_init=means,
                           precisions_init=np.linalg.inv(covs)).fit(Z)


@pytest.mark.parametrize("seed", [0, 1])
def test_em_matches_sklearn_from_the_same_labels(ref, digits, seed):
    from sklearn.cluster import KMeans

    pca = ref.PCA(50)
    pca.fit(digits)
    Z = pca.transform(digits)
    labels = KMeans(10, n_init=1, random_state=seed).fit(Z).labels_
    ours = ref.GMM(10, 50).fit(Z, init_labels=labels)
    theirs = _sklearn_from_labels(Z, labels, 10, 100)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ and theirs.converged_
    assert abs(ours.lower_bound_ - theirs.lower_bound_) < 1e-6
    np.testing.assert_allclose(ours.means, theirs.means_, atol=1e-6)


def test_e_step_stays_finite_in_high_dimension(ref):
    rng = np.random.default_rng(0)
    gmm = ref.GMM(3, 50)
    gmm.means = 60 * np.linalg.qr(rng.normal(size=(50, 3)))[0].T
    X = np.concatenate([gmm.means + rng.normal(size=(3, 50)),
                        0.5 * (gmm.means[:1] + gmm.means[1:2])])
    gamma = gmm._e_step(X)
    assert np.isfinite(gamma).all()
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0)
    np.testing.assert_allclose(gamma[:3], np.eye(3), atol=1e-12)


def test_steps_leave_their_inputs_alone(ref):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 4))
    gamma = rng.dirichlet(np.ones(3), size=100)
    copies = X.copy(), gamma.copy()
    gmm = ref.GMM(3, 4)
    gmm._m_step(X, gamma)
    gmm._e_step(X)
    ref.PCA(2).fit(X)
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(gamma, copies[1])


def test_sample_from_gmm_saves_a_28x28_uint8_png(ref, digits, tmp_path):
    pca = ref.PCA(20)
    pca.fit(digits[:500])
    gmm = ref.GMM(2, 20).fit(pca.transform(digits[:500]), random_state=0)
    ref.sample_from_gmm(gmm, pca, 1, tmp_path)
    image = Image.open(tmp_path / "gmm_sample.png")
    assert (image.mode, image.size) == ("L", (28, 28))
    assert np.ptp(np.asarray(image)) > 0, "the sample is one flat grey level"


def test_save_and_load_round_trip(ref, tmp_path):
    gmm = ref.GMM(2, 3)
    gmm.means = np.arange(6.0).reshape(2, 3)
    gmm.save_pretrained(tmp_path / "gmm")
    back = ref.GMM.from_pretrained(tmp_path / "gmm")
    np.testing.assert_array_equal(back.means, gmm.means)
    assert (back.n_components, back.data_dim) == (2, 3)
    pca = ref.PCA(2)
    pca.fit(np.random.default_rng(0).normal(size=(10, 3)))
    pca.save_pretrained(tmp_path / "pca")
    np.testing.assert_array_equal(ref.PCA.from_pretrained(tmp_path / "pca").components,
                                  pca.components)
    with pytest.raises(ArtifactError, match="does not exist"):
        ref.GMM.from_pretrained(tmp_path / "missing")


def test_given_code_validates_its_inputs(ref):
    with pytest.raises(ValueError, match="n_components"):
        ref.GMM(0, 3)
    with pytest.raises(ValueError, match="X"):
        ref.GMM(2, 3).fit(np.zeros((10, 4)))
    with pytest.raises(ValueError, match="not fitted"):
        ref.PCA(2).save_pretrained("unused")


@pytest.mark.parametrize("shape", [(1, 28, 28), (28, 28), (1, 784), (784,)])
def test_to_uint8_image_takes_either_pixel_scale_and_shape(ref, shape):
    """[0, 1] floats (this lab) are scaled by 255, [0, 255] floats (the original lab) kept,
    uint8 kept as it is; every shape holding the 784 pixels of one digit is accepted."""
    pixels = np.linspace(0.0, 1.0, 784)
    expected = (pixels * 255).round().astype(np.uint8).reshape(28, 28)
    for sample in (pixels, pixels * 255, (pixels * 255).round().astype(np.uint8)):
        image = ref.to_uint8_image(sample.reshape(shape))
        assert image.dtype == np.uint8 and image.shape == (28, 28)
        np.testing.assert_array_equal(image, expected)
    clipped = ref.to_uint8_image(np.array([-0.3, 1.4] * 392))
    np.testing.assert_array_equal(np.unique(clipped), [0, 255])


@pytest.mark.parametrize(("sample", "message"), [
    (None, "sample is None"), (np.zeros((2, 28, 28)), r"shape \(2, 28, 28\) \(1568 values\)"),
    (np.full(784, np.nan), "NaN"), (np.array(["a"] * 784), "dtype")])
def test_to_uint8_image_says_what_it_received(ref, sample, message):
    with pytest.raises(ValueError, match=message):
        ref.to_uint8_image(sample)


def test_stub_holds_the_original_scaffolds_imports():
    """Code pasted from the original lab (signatures with Union/List, tqdm, safetensors, json)
    finds every name the original scaffold imported."""
    namespace: dict = {}
    exec(compile((LAB_DIR / "submission.py").read_text(), "submission.py", "exec"), namespace)
    for name in ("np", "tqdm", "KMeans", "save_file", "load_file", "Path", "Union", "List",
                 "Image", "json"):
        assert name in namespace, f"the stub does not import {name}"


def test_given_lines_around_the_student_regions_are_the_original_scaffolds():
    """N, D and gamma's zeros before the E-step's region and `return gamma` after it; N, D and
    n_soft before the M-step's; the image saving after the sampler's."""
    stub = (LAB_DIR / "submission.py").read_text()
    e_step = stub[stub.index("    def _e_step"):stub.index("    def _m_step")]
    assert e_step.index("N, D = X.shape") < e_step.index("gamma = np.zeros((N, self.n_components))"
                                                         ) < e_step.index("START OF YOUR CODE")
    assert e_step.rstrip().endswith("return gamma")
    m_step = stub[stub.index("    def _m_step"):stub.index("    def _gaussian")]
    assert m_step.index("n_soft = np.sum(gamma, axis=0)") < m_step.index("START OF YOUR CODE")
    sampler = stub[stub.index("def sample_from_gmm"):]
    assert sampler.index("END OF YOUR CODE") < sampler.index("gmm_sample.png\")")
