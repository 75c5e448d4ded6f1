"""Hidden tests of sample_from_gmm (7 points).

The grader builds, in the sandbox, a PCA whose 11 components light up 11 disjoint blocks of
pixels, and a GMM whose component k sits on block k (k < 10) with a unit variance along block
10. Which block is bright tells the component a saved image came from; whether block 10 is
above or below the background tells whether the image is a random draw or the mean.

Pixel scale: this lab's pixels are in [0, 1], the original lab's in [0, 255]. A sampler written
for the original (clip to [0, 255], cast to uint8) saves a black image (pixels 0 or 1) from
[0, 1] pixels; when the first image is flat like that, the grader switches to the same models in
the 0..255 scale, so both conventions are graded the same. An image flat in both scales fails
with a pixel-scale hint.
"""

import numpy as np
import pytest
from problems import remote_gmm
from received import received_png

from grading.rpc.errors import StudentError

K, EXTRA, SIDE = 10, 10, 28
BACKGROUND = 84  # the first 3 rows
BLOCK = 63  # 11 blocks of 63 pixels after the background


def _blocks() -> np.ndarray:
    components = np.zeros((K + 1, SIDE * SIDE))
    for j in range(K + 1):
        components[j, BACKGROUND + BLOCK * j: BACKGROUND + BLOCK * (j + 1)] = 1 / np.sqrt(BLOCK)
    return components


def _models(submission, scale: float):
    """The GMM and PCA of the test, built in the sandbox; the PCA maps to pixels times ``scale``
    (1: this lab's [0, 1] pixels; 255: the original lab's)."""
    means = np.zeros((K, K + 1))
    means[np.arange(K), np.arange(K)] = 3.0
    covs = np.tile(np.diag([0.01] * K + [1.0]), (K, 1, 1))
    pi = np.full(K, 0.01)
    pi[0] = 1 - 0.01 * (K - 1)  # a sampler that draws the component from pi mostly gets 0
    gmm = remote_gmm(submission, means, covs, pi)
    pca = submission.PCA(K + 1)
    pca.components = _blocks() * scale
    pca.mean = np.full(SIDE * SIDE, 0.5 * scale)
    return gmm, pca


ORIGINAL_SCALE = 255.0  # the original lab's pixels: 0..255


def _flat(pixels: np.ndarray) -> bool:
    """An image without content: at most two adjacent grey levels (e.g. 0 and 1, black)."""
    return int(pixels.max()) - int(pixels.min()) <= 1


def _flat_message(pixels: np.ndarray) -> str:
    low, high = int(pixels.min()), int(pixels.max())
    colour = "black (0 or 1)" if high <= 1 else f"one grey level ({low} to {high})"
    return (f"gmm_sample.png is flat: every pixel is {colour}, in this lab's pixel scale and in "
            "the original lab's. This lab's pixels are in [0, 1] (the original's were 0..255): "
            "clipping them to [0, 255] and casting to uint8 makes every pixel 0 or 1, a black "
            "image. Set `sample` to the float pixels and let the given to_uint8_image convert "
            "them, or multiply by 255 before casting.")


class _Sampler:
    """Calls the student's sample_from_gmm into fresh folders and decodes what it saved.

    The sandbox-side callables are looked up once and kept, so that a test makes few remote
    objects.
    """

    def __init__(self, submission, fixed):
        self.submission = submission
        self.scale = 1.0
        self.gmm, self.pca = _models(submission, self.scale)
        self.sample = submission.sample_from_gmm
        self.makedirs = fixed("os").makedirs
        self.path = fixed("pathlib").Path
        self.count = 0

    def _saved(self, label: int) -> np.ndarray:
        self.count += 1
        folder = f"samples_{self.count}"
        self.makedirs(folder, exist_ok=True)
        self.sample(self.gmm, self.pca, label, folder)
        try:
            data = self.path(f"{folder}/gmm_sample.png").read_bytes()
        except StudentError:
            raise AssertionError(f"sample_from_gmm(gmm, pca, {label}, path) saved no file at "
                                 "path/gmm_sample.png") from None
        return received_png("gmm_sample.png", data, (SIDE, SIDE)).reshape(-1)

    def image(self, label: int, content: bool = True) -> np.ndarray:
        """The pixels (784,) that sample_from_gmm saved for ``label``. With ``content``, a flat
        image (at most two adjacent grey levels, such as 0 and 1) makes the sampler switch once
        to the original lab's scale, and fails there with a pixel-scale hint."""
        pixels = self._saved(label)
        if not content or not _flat(pixels):
            return pixels
        if self.scale == 1.0:
            self.scale = ORIGINAL_SCALE
            self.gmm, self.pca = _models(self.submission, self.scale)
            pixels = self._saved(label)
        if _flat(pixels):
            raise AssertionError(_flat_message(pixels))
        return pixels


def _block_levels(pixels: np.ndarray) -> np.ndarray:
    background = pixels[:BACKGROUND].mean()
    blocks = pixels[BACKGROUND: BACKGROUND + BLOCK * (K + 1)].reshape(K + 1, BLOCK).mean(axis=1)
    return blocks - background


@pytest.mark.points(2)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Reshape the 784 pixels to (28, 28), scale to [0, 255], convert with "
                  ".astype(np.uint8), then Image.fromarray(image).save(Path(path) / "
                  "'gmm_sample.png').")
def test_sample_saves_image(submission, fixed):
    """Sampling: saves path/gmm_sample.png, a 28 x 28 grey-scale (uint8) PNG"""
    _Sampler(submission, fixed).image(3, content=False)


@pytest.mark.points(3)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Sample from the Gaussian of component `label`: "
                  "np.random.multivariate_normal(gmm.means[label], gmm.covs[label]).")
def test_sample_comes_from_requested_component(submission, fixed):
    """Sampling: 20 samples, each from the component that was asked for"""
    sampler = _Sampler(submission, fixed)
    wrong = []
    for label in list(range(K)) * 2:
        found = int(np.argmax(_block_levels(sampler.image(label))[:K]))
        if found != label:
            wrong.append((label, found))
    assert not wrong, (
        f"{len(wrong)} of 20 samples came from another component (asked, got): {wrong[:6]}. "
        "Use the `label` argument to pick the component; do not draw it from pi.")


@pytest.mark.points(2)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Draw a random sample from N(mean_k, cov_k); returning the mean is not a "
                  "sample.")
def test_sample_is_random(submission, fixed):
    """Sampling: 30 samples of one component vary like draws from its Gaussian"""
    sampler = _Sampler(submission, fixed)
    signs = np.array([np.sign(np.round(_block_levels(sampler.image(4))[EXTRA], 6))
                      for _ in range(30)])
    above, below = int((signs > 0).sum()), int((signs < 0).sum())
    assert above >= 5 and below >= 5, (
        f"along a direction of variance 1 the 30 samples fell {above} times above and {below} "
        "times below the mean (a random draw gives about 15 each): the samples do not vary like "
        "draws from N(mean_k, cov_k)")
