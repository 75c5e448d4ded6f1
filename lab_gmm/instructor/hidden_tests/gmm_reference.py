"""Trusted helpers of the hidden tests (grader side only; never sent to the sandbox).

* :data:`given`: the lab's given code (the public stub ``submission.py``, the grader's copy),
  for what the lab itself provides (``GMM._mean_log_likelihood``); never the solution, which the
  autograder does not ship;
* :func:`log_responsibilities` / :func:`predict`: log-space E-step on given parameters;
* :func:`m_step`: the maximum-likelihood M-step, written apart from the solution;
* :func:`cluster_accuracy`: accuracy after the best one-to-one matching of clusters to labels;
* :func:`flat_images`: the grader's MNIST sample as float64 rows.

The student's saved run is read by :mod:`student_run`.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

LAB_DIR = Path(__file__).resolve().parents[2]


REG_COVAR = 1e-6  # the lab's regulariser, added to each covariance's diagonal


def _load_given() -> types.ModuleType:
    path = LAB_DIR / "submission.py"
    module = types.ModuleType("lab_gmm_given")
    module.__file__ = str(path)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


given = _load_given()


def m_step(X, gamma) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pi (K,), means (K, D), covs (K, D, D)): the maximum-likelihood update of X (N, D) with
    responsibilities gamma (N, K), ``REG_COVAR`` added to each covariance's diagonal."""
    X, gamma = np.asarray(X, dtype=np.float64), np.asarray(gamma, dtype=np.float64)
    nk = gamma.sum(axis=0)
    means = gamma.T @ X / nk[:, None]
    covs = np.empty((gamma.shape[1], X.shape[1], X.shape[1]))
    for k in range(gamma.shape[1]):
        diff = X - means[k]
        covs[k] = (gamma[:, k, None] * diff).T @ diff / nk[k] + REG_COVAR * np.eye(X.shape[1])
    return nk / X.shape[0], means, covs


def log_responsibilities(X, means, covs, pi) -> tuple[np.ndarray, np.ndarray]:
    """(log gamma (N, K), log p(x_n) (N,)) for a GMM with the given parameters.

    Raises ValueError when a covariance is not positive definite.
    """
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    log_w = np.empty((X.shape[0], len(pi)))
    with np.errstate(divide="ignore"):
        log_pi = np.log(np.asarray(pi, dtype=np.float64))
    for k in range(len(pi)):
        try:
            chol = np.linalg.cholesky(np.asarray(covs[k], dtype=np.float64))
        except np.linalg.LinAlgError:
            raise ValueError(f"covariance {k} is not positive definite") from None
        # z = L^-1 (x - mu) for every row at once: one matrix product (as fast as a good
        # student's E-step, which the speed tests time against this)
        z = (X - means[k]) @ solve_triangular(chol, np.eye(d), lower=True).T
        log_det = 2 * np.log(np.diag(chol)).sum()
        log_w[:, k] = log_pi[k] - 0.5 * (d * np.log(2 * np.pi) + log_det
                                         + np.einsum("nd,nd->n", z, z))
    log_norm = logsumexp(log_w, axis=1)
    return log_w - log_norm[:, None], log_norm


def predict(X, means, covs, pi) -> np.ndarray:
    """The most responsible component of each row of X, computed in log space."""
    return np.argmax(log_responsibilities(X, means, covs, pi)[0], axis=1)


def cluster_accuracy(labels, clusters) -> float:
    """Accuracy after mapping clusters to labels one-to-one (Hungarian matching)."""
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    counts = np.zeros((clusters.max() + 1, labels.max() + 1))
    np.add.at(counts, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(labels))


def flat_images(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST sample's ``split`` as float64 (N, 784) in [0, 1] and int labels (N,)."""
    from common.data import load_mnist

    images, labels = load_mnist("sample", split)
    return images.reshape(len(images), -1).astype(np.float64), np.asarray(labels)
