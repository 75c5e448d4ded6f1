"""Lab GMM: a Gaussian mixture fitted by EM, a PCA, and sampling digits from the mixture.

You complete four parts (see README.md): ``GMM._e_step``, ``GMM._m_step``, ``PCA.fit`` and
``sample_from_gmm``. Everything else in this file is given; keep the names and signatures.
"""

import json  # noqa: F401 - this import and the next four are the original scaffold's
from pathlib import Path
from typing import List, Union  # noqa: F401, UP035 - original signatures use them

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save_file  # noqa: F401
from scipy.linalg import solve_triangular
from sklearn.cluster import KMeans
from tqdm import tqdm  # noqa: F401

from common.artifacts import NumpyArtifactMixin
from common.checks import check_shape
from common.progress import progress

REG_COVAR = 1e-6  # added to each covariance's diagonal in the M-step


class GMM(NumpyArtifactMixin):
    """Gaussian mixture model with full covariances, initialised by KMeans, fitted by EM.

    Parameters
    ----------
    n_components : int
        Number of components, K.
    data_dim : int
        Dimension of the data, D.

    Attributes
    ----------
    means : ndarray of shape (K, D)
    covs : ndarray of shape (K, D, D)
    pi : ndarray of shape (K,), the mixing weights (non-negative, summing to 1)
    lower_bound_ : float, the mean log-likelihood at the last EM iteration (after ``fit``)
    n_iter_ : int, the number of EM iterations ``fit`` ran
    converged_ : bool, whether ``fit`` stopped because the lower bound stopped moving
    """

    artifact_name = "gmm"

    def __init__(self, n_components: int, data_dim: int):
        if int(n_components) < 1 or int(data_dim) < 1:
            raise ValueError(f"GMM needs n_components >= 1 and data_dim >= 1; received "
                             f"n_components={n_components}, data_dim={data_dim}.")
        self.n_components = int(n_components)
        self.data_dim = int(data_dim)
        self.means = np.zeros((self.n_components, self.data_dim))
        self.covs = np.tile(np.eye(self.data_dim), (self.n_components, 1, 1))
        self.pi = np.full(self.n_components, 1.0 / self.n_components)

    # -- saving and loading (config.json + gmm.safetensors) -------------------------------
    def _artifact_config(self):
        return {"n_components": self.n_components, "data_dim": self.data_dim}

    def _artifact_arrays(self):
        return {"means": self.means, "covs": self.covs, "pi": self.pi}

    def _load_arrays(self, arrays):
        self.means, self.covs, self.pi = arrays["means"], arrays["covs"], arrays["pi"]

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, max_iter: int = 100, tol: float = 1e-3, init_labels=None,
            random_state=None, verbose: bool = False):
        """Initialise from KMeans labels, then run EM until the lower bound stops moving.

        Parameters
        ----------
        X : ndarray of shape (N, D)
        max_iter : int, the most EM iterations
        tol : float, stop when the mean log-likelihood changes by less than ``tol`` between two
            iterations (scikit-learn's rule for ``GaussianMixture``)
        init_labels : ndarray of shape (N,) with values in 0..K-1, optional
            Start from these hard labels instead of running KMeans.
        random_state : int, optional, the seed of KMeans (default: numpy's global state)
        verbose : bool, show a progress bar

        Returns
        -------
        self
        """
        X = np.asarray(X, dtype=np.float64)
        check_shape("X", X, ("N", self.data_dim))
        if init_labels is None:
            kmeans = KMeans(n_clusters=self.n_components, n_init=1, random_state=random_state)
            init_labels = kmeans.fit(X).labels_
        init_labels = np.asarray(init_labels)
        check_shape("init_labels", init_labels, (X.shape[0],))
        # The initial parameters are the M-step of the hard KMeans assignment.
        self._m_step(X, np.eye(self.n_components)[init_labels])

        lower_bound = -np.inf
        self.converged_, self.n_iter_ = False, 0
        iterations = range(1, max_iter + 1)
        steps = progress(iterations, desc="EM", leave=False) if verbose else None
        for self.n_iter_ in steps if steps is not None else iterations:
            previous = lower_bound
            gamma = self._e_step(X)
            lower_bound = self._mean_log_likelihood(X, gamma)
            self._m_step(X, gamma)
            if steps is not None:
                steps.set_postfix(lower_bound=f"{lower_bound:.4f}")
            if abs(lower_bound - previous) < tol:
                self.converged_ = True
                break
        self.lower_bound_ = float(lower_bound)
        return self

    def _mean_log_likelihood(self, X: np.ndarray, gamma: np.ndarray) -> float:
        """The mean of log p(x_n) under the parameters that produced ``gamma``.

        For any k, log p(x_n) = log pi_k + log N(x_n | k) - log gamma_nk; with k the most
        responsible component this costs one Gaussian per sample instead of K.
        """
        best = np.argmax(gamma, axis=1)
        log_p = np.empty(X.shape[0])
        for k in np.unique(best):
            rows = best == k
            chol = np.linalg.cholesky(self.covs[k])
            z = solve_triangular(chol, (X[rows] - self.means[k]).T, lower=True)
            log_det = 2 * np.log(np.diag(chol)).sum()
            log_gauss = -0.5 * (self.data_dim * np.log(2 * np.pi) + log_det + (z * z).sum(0))
            log_p[rows] = np.log(self.pi[k]) + log_gauss - np.log(gamma[rows, k])
        return float(log_p.mean())

    def _e_step(self, X: np.ndarray) -> np.ndarray:
        """E-step: the responsibilities of the components for each sample.

        Parameters
        ----------
        X : ndarray of shape (N, D), not modified

        Returns
        -------
        gamma : ndarray of shape (N, K); gamma[n, k] = p(component k | x_n), rows sum to 1.
            ``N, D``, ``gamma`` (zeros) and ``return gamma`` are given: fill ``gamma`` (or
            assign a new array to it). Extension: stay finite in high dimension (D = 50),
            where densities underflow to 0 (README, section 1.1).
        """
        N, D = X.shape
        gamma = np.zeros((N, self.n_components))
        # BEGIN SOLUTION
        X = np.asarray(X, dtype=np.float64)
        K = len(self.pi)
        chols = np.linalg.cholesky(self.covs)
        # With W_j = L_j^{-1}, |W_j x - W_j mu_j|^2 is the Mahalanobis distance to component j.
        # One matrix product of [X, 1] with the stacked [W_j^T; -(W_j mu_j)^T] gives them all.
        projection = np.empty((D + 1, K, D))
        for j, chol in enumerate(chols):
            whitener = solve_triangular(chol, np.eye(D), lower=True)
            projection[:D, j] = whitener.T
            projection[D, j] = -(whitener @ self.means[j])
        z = (np.hstack([X, np.ones((N, 1))]) @ projection.reshape(D + 1, K * D)).reshape(N, K, D)
        log_det = 2 * np.log(np.diagonal(chols, axis1=1, axis2=2)).sum(axis=1)
        log_weighted = (np.log(self.pi) - 0.5 * (D * np.log(2 * np.pi) + log_det)
                        - 0.5 * np.einsum("nkd,nkd->nk", z, z))
        log_weighted -= log_weighted.max(axis=1, keepdims=True)
        gamma = np.exp(log_weighted)
        gamma /= gamma.sum(axis=1, keepdims=True)
        # END SOLUTION
        return gamma

    def _m_step(self, X: np.ndarray, gamma: np.ndarray) -> None:
        """M-step: update ``pi``, ``means`` and ``covs`` from the responsibilities.

        Parameters
        ----------
        X : ndarray of shape (N, D), not modified
        gamma : ndarray of shape (N, K), not modified

        Sets ``self.pi`` (K,), ``self.means`` (K, D) and ``self.covs`` (K, D, D), the maximum
        likelihood estimates; ``N, D`` and ``n_soft`` (K,), the sum of ``gamma`` over the
        samples, are given. Adding ``1e-6 * I`` (``REG_COVAR``) to each covariance keeps them
        invertible on degenerate data (recommended; graded the same with or without).
        """
        N, D = X.shape
        n_soft = np.sum(gamma, axis=0)  # noqa: F841 - (K,), the soft counts, for your lines
        # BEGIN SOLUTION
        X = np.asarray(X, dtype=np.float64)
        K = gamma.shape[1]
        self.pi = n_soft / N
        # Covariances do not depend on the origin: centring X keeps the one-pass form
        # E[x x^T] - mu mu^T accurate, and one matrix product gives all K second moments.
        center = X.mean(axis=0)
        centered = X - center
        means = (gamma.T @ centered) / n_soft[:, None]
        weighted = (gamma[:, :, None] * centered[:, None, :]).reshape(N, K * D)
        covs = ((weighted.T @ centered).reshape(K, D, D) / n_soft[:, None, None]
                - means[:, :, None] * means[:, None, :])
        covs = 0.5 * (covs + covs.transpose(0, 2, 1))
        covs[:, np.arange(D), np.arange(D)] += REG_COVAR
        self.means = means + center
        self.covs = covs
        # END SOLUTION

    def _gaussian(self, X: np.ndarray, mean: np.ndarray, inv_cov: np.ndarray, det: float
                  ) -> np.ndarray:
        """The density of N(mean, cov) at each row of X (computed in log form, then exp).

        Parameters
        ----------
        X : ndarray of shape (N, D)
        mean : ndarray of shape (D,)
        inv_cov : ndarray of shape (D, D), the inverse of the covariance
        det : float, the determinant of the covariance

        Returns
        -------
        density : ndarray of shape (N,). In high dimension it underflows to 0: for the E-step,
            use its log form (the line computing ``log_density``), not its exp.
        """
        d = X.shape[1]
        diff = X - mean
        mahalanobis = np.sum((diff @ inv_cov) * diff, axis=1)
        log_density = -0.5 * (mahalanobis + np.log(det) + d * np.log(2 * np.pi))
        return np.exp(log_density)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most responsible component of each sample: ndarray of shape (N,), in 0..K-1."""
        return np.argmax(self._e_step(X), axis=1)


class PCA(NumpyArtifactMixin):
    """Principal component analysis.

    Parameters
    ----------
    dim : int
        Number of components kept, d.

    Attributes
    ----------
    components : ndarray of shape (d, D), orthonormal rows, by decreasing explained variance
    mean : ndarray of shape (D,), the mean of the data
    """

    artifact_name = "pca"

    def __init__(self, dim: int):
        if int(dim) < 1:
            raise ValueError(f"PCA needs dim >= 1; received dim={dim}.")
        self.dim = int(dim)
        self.components = None
        self.mean = None

    def _artifact_config(self):
        return {"dim": self.dim}

    def _artifact_arrays(self):
        if self.components is None:
            raise ValueError("this PCA is not fitted yet: call fit(X) before save_pretrained.")
        return {"components": self.components, "mean": self.mean}

    def _load_arrays(self, arrays):
        self.components, self.mean = arrays["components"], arrays["mean"]

    def fit(self, X: np.ndarray) -> None:
        """Compute ``self.mean`` and the first ``dim`` principal components with np.linalg.eigh.

        Parameters
        ----------
        X : ndarray of shape (N, D), not modified

        Sets ``self.mean`` (D,) and ``self.components`` (d, D): the unit eigenvectors of the
        covariance of X with the d largest eigenvalues, as rows, largest first.
        """
        # BEGIN SOLUTION
        X = np.asarray(X, dtype=np.float64)
        self.mean = X.mean(axis=0)
        centered = X - self.mean
        cov = centered.T @ centered / (X.shape[0] - 1)
        eigenvalues, eigenvectors = np.linalg.eigh(cov)
        order = np.argsort(eigenvalues)[::-1][: self.dim]
        self.components = eigenvectors[:, order].T
        # END SOLUTION

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Project X of shape (N, D) onto the components: ndarray of shape (N, d)."""
        return (X - self.mean) @ self.components.T

    def inverse_transform(self, X_pca: np.ndarray) -> np.ndarray:
        """Map X_pca of shape (N, d) back to the data space: ndarray of shape (N, D)."""
        return X_pca @ self.components + self.mean


PIXELS_SIDE = 28  # MNIST digits are 28 x 28


def to_uint8_image(sample) -> np.ndarray:
    """The pixels of one digit as a savable grey-scale image, whatever their scale and dtype.

    Parameters
    ----------
    sample : array of 784 values, of any shape holding them ((1, 28, 28), (28, 28), (1, 784) or
        (784,)): uint8 values are kept as they are; other values are pixels in [0, 1] (this
        lab's scale) when none exceeds 2, else in [0, 255] (the original lab's scale), and are
        scaled, clipped and rounded to 0..255.

    Returns
    -------
    image : ndarray of shape (28, 28), dtype uint8
    """
    if sample is None:
        raise ValueError("sample_from_gmm: sample is None; your lines must set sample to the 784 "
                         "pixels of the drawn digit (pca.inverse_transform of one draw).")
    array = np.asarray(sample)
    if array.size != PIXELS_SIDE * PIXELS_SIDE:
        raise ValueError(f"sample_from_gmm: sample has shape {array.shape} ({array.size} values); "
                         f"expected the {PIXELS_SIDE * PIXELS_SIDE} pixels of one digit, e.g. "
                         "shape (1, 28, 28): pca.inverse_transform of one draw, reshaped.")
    if array.dtype == np.uint8:
        return array.reshape(PIXELS_SIDE, PIXELS_SIDE)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"sample_from_gmm: sample has dtype {array.dtype}; expected numbers "
                         "(the pixels of one digit).")
    pixels = array.astype(np.float64).reshape(PIXELS_SIDE, PIXELS_SIDE)
    if not np.isfinite(pixels).all():
        raise ValueError("sample_from_gmm: sample has NaN or infinite pixels; check the mean and "
                         "covariance of the component you sampled from.")
    if pixels.max() <= 2.0:
        pixels = pixels * 255.0
    return np.clip(pixels, 0.0, 255.0).round().astype(np.uint8)


def sample_from_gmm(gmm: GMM, pca: PCA, label: int, path: str | Path) -> None:
    """Draw one sample from component ``label`` of ``gmm`` and save it as an image.

    Parameters
    ----------
    gmm : GMM fitted in the PCA space (D = pca.dim)
    pca : PCA whose ``inverse_transform`` maps the sample back to the 784 pixels
    label : int, the component to sample from
    path : str or Path, an existing folder

    Your lines set ``sample``, the 784 pixels of the drawn digit, e.g. of shape (1, 28, 28).
    The given lines after them convert it with ``to_uint8_image`` (floats in [0, 1] or in
    [0, 255], or uint8) and save ``path/gmm_sample.png``, a 28 x 28 grey-scale PNG.
    """
    sample = None  # your lines set it
    # BEGIN SOLUTION
    z = np.random.multivariate_normal(gmm.means[label], gmm.covs[label], size=1)  # noqa: NPY002
    sample = pca.inverse_transform(z).reshape(-1, PIXELS_SIDE, PIXELS_SIDE)
    # END SOLUTION

    # Save the image (given): to_uint8_image accepts either pixel scale, floats or uint8.
    Image.fromarray(to_uint8_image(sample)).save(Path(path) / "gmm_sample.png")
