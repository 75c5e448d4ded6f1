# ruff: noqa - written as students of the original lab wrote it (its imports, its typing, its style)
# A completed submission.py of the original GMM/PCA lab, the whole file as handed in: the
# density-space E-step through the given _gaussian (as the original hint said), the M-step
# writing into self.covs, and a sampler that clips to [0, 255] and casts to uint8 (the original
# pixels were 0..255), then saves with the original scaffold's lines.
import numpy as np
from tqdm import tqdm
from sklearn.cluster import KMeans
from safetensors.numpy import save_file, load_file
from pathlib import Path
from typing import Union, List
from PIL import Image
import json


class GMM:
    def __init__(self, n_components: int, data_dim: int):
        self.n_components = n_components
        self.data_dim = data_dim
        self.means = np.random.rand(n_components, data_dim)
        self.covs = np.array([np.eye(data_dim) for _ in range(n_components)])
        self.pi = np.ones(n_components) / n_components

    @classmethod
    def from_pretrained(cls, path: Union[str, Path]):
        path = Path(path)
        with open(path / "config.json") as f:
            config = json.load(f)
        params = load_file(path / "gmm.safetensors")
        model = cls(**config)
        model.means, model.covs, model.pi = params["means"], params["covs"], params["pi"]
        return model

    def fit(self, X: np.ndarray, max_iter: int = 100):
        kmeans = KMeans(n_clusters=self.n_components)
        kmeans.fit(X)
        self.means = kmeans.cluster_centers_
        self.covs = np.array([np.cov(X[kmeans.labels_ == i].T) for i in range(self.n_components)])
        self.pi = np.array([np.mean(kmeans.labels_ == i) for i in range(self.n_components)])
        for _ in tqdm(range(max_iter)):
            gamma = self._e_step(X)
            self._m_step(X, gamma)

    def _e_step(self, X: np.ndarray) -> np.ndarray:
        N, D = X.shape
        gamma = np.zeros((N, self.n_components))
        for k in range(self.n_components):
            inv_cov = np.linalg.inv(self.covs[k])
            det = np.linalg.det(self.covs[k])
            gamma[:, k] = self.pi[k] * self._gaussian(X, self.means[k], inv_cov, det)
        gamma /= np.sum(gamma, axis=1, keepdims=True)
        return gamma

    def _m_step(self, X: np.ndarray, gamma: np.ndarray):
        N, D = X.shape
        n_soft = np.sum(gamma, axis=0)
        self.pi = n_soft / N
        self.means = (gamma.T @ X) / n_soft[:, None]
        for k in range(self.n_components):
            diff = X - self.means[k]
            self.covs[k] = (diff.T @ (gamma[:, k:k + 1] * diff)) / n_soft[k] + 1e-6 * np.eye(D)

    def _gaussian(self, X, mean, inv_cov, det):
        N, D = X.shape
        diff = X - mean
        exponent = np.sum(diff @ inv_cov * diff, axis=1)
        log_prob = -0.5 * exponent - 0.5 * np.log(det) - D / 2 * np.log(2 * np.pi)
        return np.exp(log_prob)

    def predict(self, X):
        return np.argmax(self._e_step(X), axis=1)

    def save_pretrained(self, path: Union[str, Path]):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with open(path / "config.json", "w") as f:
            json.dump({"n_components": self.n_components, "data_dim": self.data_dim}, f)
        save_file({"means": self.means, "covs": self.covs, "pi": self.pi},
                  path / "gmm.safetensors")


class PCA:
    def __init__(self, dim: int):
        self.dim = dim
        self.components = None
        self.mean = None

    @classmethod
    def from_pretrained(cls, path: Union[str, Path]):
        path = Path(path)
        with open(path / "config.json") as f:
            config = json.load(f)
        params = load_file(path / "pca.safetensors")
        model = cls(**config)
        model.components, model.mean = params["components"], params["mean"]
        return model

    def fit(self, X: np.ndarray):
        self.mean = np.mean(X, axis=0)
        cov = np.cov((X - self.mean).T)
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1]
        self.components = vectors.T[order][: self.dim]

    def transform(self, X):
        return (X - self.mean) @ self.components.T

    def inverse_transform(self, X_pca):
        return X_pca @ self.components + self.mean

    def save_pretrained(self, path: Union[str, Path]):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with open(path / "config.json", "w") as f:
            json.dump({"dim": self.dim}, f)
        save_file({"components": self.components, "mean": self.mean}, path / "pca.safetensors")


def sample_from_gmm(gmm: GMM, pca: PCA, label: int, path: Union[str, Path]):
    sample = np.random.multivariate_normal(gmm.means[label], gmm.covs[label], 1)
    sample = pca.inverse_transform(sample)
    sample = np.clip(sample, 0, 255).reshape(-1, 28, 28).astype(np.uint8)

    sample = Image.fromarray(sample[0], mode="L")
    path = Path(path)
    sample.save(path / "gmm_sample.png")
