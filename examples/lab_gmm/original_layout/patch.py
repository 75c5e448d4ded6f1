# mode: replace
# ruff: noqa: NPY002 - the seed lab draws from numpy's global generator
# A submission in the layout of the seed course lab: its own given code (plain config.json,
# KMeans + np.cov initialisation, a fixed number of EM iterations, a tqdm bar) and answers
# written in its style. It must grade like the reference.
import json
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save_file
from sklearn.cluster import KMeans
from tqdm import tqdm


class GMM:
    def __init__(self, n_components, data_dim):
        self.n_components = n_components
        self.data_dim = data_dim
        self.means = np.random.rand(n_components, data_dim)
        self.covs = np.array([np.eye(data_dim) for _ in range(n_components)])
        self.pi = np.ones(n_components) / n_components

    @classmethod
    def from_pretrained(cls, path):
        path = Path(path)
        model = cls(**json.loads((path / "config.json").read_text()))
        params = load_file(path / "gmm.safetensors")
        model.means, model.covs, model.pi = params["means"], params["covs"], params["pi"]
        return model

    def fit(self, X, max_iter=100):
        kmeans = KMeans(n_clusters=self.n_components).fit(X)
        self.means = kmeans.cluster_centers_
        self.covs = np.array([np.cov(X[kmeans.labels_ == i].T)
                              for i in range(self.n_components)])
        self.pi = np.array([np.mean(kmeans.labels_ == i) for i in range(self.n_components)])
        for _ in tqdm(range(max_iter)):
            gamma = self._e_step(X)
            self._m_step(X, gamma)

    def _e_step(self, X):
        log_w = np.zeros((X.shape[0], self.n_components))
        for k in range(self.n_components):
            sign, log_det = np.linalg.slogdet(self.covs[k])
            diff = X - self.means[k]
            maha = np.sum(diff @ np.linalg.inv(self.covs[k]) * diff, axis=1)
            log_w[:, k] = np.log(self.pi[k]) - 0.5 * (maha + log_det
                                                      + X.shape[1] * np.log(2 * np.pi))
        log_w = log_w - log_w.max(axis=1, keepdims=True)
        gamma = np.exp(log_w)
        return gamma / gamma.sum(axis=1, keepdims=True)

    def _m_step(self, X, gamma):
        n_soft = gamma.sum(axis=0)
        self.pi = n_soft / X.shape[0]
        self.means = gamma.T @ X / n_soft[:, None]
        covs = []
        for k in range(self.n_components):
            diff = X - self.means[k]
            covs.append((gamma[:, k:k + 1] * diff).T @ diff / n_soft[k]
                        + 1e-6 * np.eye(self.data_dim))
        self.covs = np.array(covs)

    def _gaussian(self, X, mean, inv_cov, det):
        diff = X - mean
        exponent = np.sum(diff @ inv_cov * diff, axis=1)
        return np.exp(-0.5 * exponent - 0.5 * np.log(det) - X.shape[1] / 2 * np.log(2 * np.pi))

    def predict(self, X):
        return np.argmax(self._e_step(X), axis=1)

    def save_pretrained(self, path):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(
            {"n_components": self.n_components, "data_dim": self.data_dim}, indent=4))
        save_file({"means": self.means, "covs": self.covs, "pi": self.pi},
                  path / "gmm.safetensors")


class PCA:
    def __init__(self, dim):
        self.dim = dim
        self.components = None
        self.mean = None

    @classmethod
    def from_pretrained(cls, path):
        path = Path(path)
        model = cls(**json.loads((path / "config.json").read_text()))
        params = load_file(path / "pca.safetensors")
        model.components, model.mean = params["components"], params["mean"]
        return model

    def fit(self, X):
        self.mean = np.mean(X, axis=0)
        values, vectors = np.linalg.eigh(np.cov((X - self.mean).T))
        self.components = vectors[:, np.argsort(values)[::-1][: self.dim]].T

    def transform(self, X):
        return (X - self.mean) @ self.components.T

    def inverse_transform(self, X_pca):
        return X_pca @ self.components + self.mean

    def save_pretrained(self, path):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps({"dim": self.dim}, indent=4))
        save_file({"components": self.components, "mean": self.mean}, path / "pca.safetensors")


def sample_from_gmm(gmm, pca, label, path):
    sample = np.random.multivariate_normal(gmm.means[label], gmm.covs[label], size=1)
    image = pca.inverse_transform(sample).reshape(28, 28)
    image = ((image - image.min()) / (image.max() - image.min()) * 255).astype(np.uint8)
    Image.fromarray(image).save(Path(path) / "gmm_sample.png")
