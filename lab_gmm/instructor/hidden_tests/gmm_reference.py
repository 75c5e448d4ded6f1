"""Trusted helpers of the hidden tests (grader side only; never sent to the sandbox).

* :data:`ref`: the instructor solution, loaded as a module (markers removed);
* :func:`log_responsibilities` / :func:`predict`: log-space E-step on given parameters;
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

from grading.solution_markers import reference_source

LAB_DIR = Path(__file__).resolve().parents[2]


def _load_reference() -> types.ModuleType:
    path = LAB_DIR / "instructor" / "solution.py"
    module = types.ModuleType("lab_gmm_reference")
    module.__file__ = str(path)
    exec(compile(reference_source(path.read_text(), str(path)), str(path), "exec"),
         module.__dict__)
    return module


ref = _load_reference()


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
        z = solve_triangular(chol, (X - means[k]).T, lower=True)
        log_det = 2 * np.log(np.diag(chol)).sum()
        log_w[:, k] = log_pi[k] - 0.5 * (d * np.log(2 * np.pi) + log_det + (z * z).sum(0))
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
