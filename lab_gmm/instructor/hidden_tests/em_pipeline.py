"""The lab's fixed pipeline, ``train.fit_models``, driven from the grader (trusted side).

Only the student's own parts run in the sandbox, called one by one through the proxy: ``PCA.fit``,
``GMM._e_step`` and ``GMM._m_step``. Everything ``train.fit_models`` and the given ``GMM.fit``
do around them (the seeding, the projection, the KMeans start, the EM loop and its stopping
rule) runs here with the grader's pristine code, in the same order, so the reference gets the
same numbers as ``train.py``. A submission that replaces ``GMM.fit`` or patches ``train`` in its
worker changes nothing here.

Every value read back is checked (type, dtype, exact shape, finite, a valid mixture) before it
is used, and every step is checked against the grader's own E-step / M-step *of the values the
step was given*: an ``_e_step`` must return the responsibilities of the current parameters and an
``_m_step`` the maximum-likelihood update of the responsibilities it received (within a
tolerance far above rounding), so a step that fits the data some other way (e.g. with
scikit-learn) cannot carry the clustering.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gmm_reference import given, log_responsibilities, m_step
from received import received_array, received_gmm
from sklearn.cluster import KMeans

TOL = 1e-3  # GMM.fit's default: stop when the mean log-likelihood moves less than this
STEP_TOL = 1e-4  # a step's largest deviation from the grader's step (relative for parameters)


@dataclass
class FittedPipeline:
    """What the pipeline fitted: the PCA (components (d, 784), mean (784,)) and the GMM
    (means (K, d), covs (K, d, d), pi (K,)) after ``n_iter`` EM iterations."""

    components: np.ndarray
    mean: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    pi: np.ndarray
    n_iter: int

    def embed(self, X: np.ndarray) -> np.ndarray:
        """``PCA.transform`` (given code) on the grader's side: (N, 784) -> (N, d), finite."""
        Z = (X - self.mean) @ self.components.T
        if not np.isfinite(Z).all():
            raise AssertionError("your PCA (self.components, self.mean) projects the digits to "
                                 "NaN or infinite values; its values are far too large.")
        return Z


def fit_pca(submission, X: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The student's ``PCA(dim=dim).fit(X)`` in the sandbox; (components (dim, D), mean (D,))
    read back and checked."""
    pca = submission.PCA(dim=dim)
    pca.fit(X)
    d = X.shape[1]
    components = received_array("self.components after PCA.fit", pca.components, (dim, d))
    mean = received_array("self.mean after PCA.fit", pca.mean, (d,))
    return components, mean


def _worst(got: np.ndarray, want: np.ndarray, relative: bool) -> float:
    scale = max(float(np.abs(want).max()), np.finfo(float).tiny) if relative else 1.0
    return float(np.abs(got - want).max()) / scale


def check_e_step(gamma: np.ndarray, Z: np.ndarray, theta, iteration: int) -> None:
    """AssertionError unless ``gamma`` (N, K) is the E-step of ``theta`` on Z within STEP_TOL."""
    expected = np.exp(log_responsibilities(Z, *theta)[0])
    worst = _worst(gamma, expected, relative=False)
    if worst > STEP_TOL:
        raise AssertionError(
            f"at EM iteration {iteration}, the responsibilities your _e_step returned differ from "
            f"those of the model's current parameters by up to {worst:.3g} (tolerance "
            f"{STEP_TOL:g}). The clustering is scored on your EM only when each E-step gives "
            "the responsibilities of self.means, self.covs and self.pi: fix the E-step first "
            "(see the E-step tests).")


def check_m_step(theta, Z: np.ndarray, gamma: np.ndarray, iteration: int) -> None:
    """AssertionError unless ``theta`` = (means, covs, pi) is the M-step of (Z, gamma), each
    array within STEP_TOL of the grader's update relative to its largest entry."""
    pi, means, covs = m_step(Z, gamma)
    expected = {"means": means, "covs": covs, "pi": pi}
    for name, got in zip(("means", "covs", "pi"), theta, strict=True):
        worst = _worst(got, expected[name], relative=True)
        if worst > STEP_TOL:
            when = "from the KMeans labels" if iteration == 0 else f"at EM iteration {iteration}"
            raise AssertionError(
                f"{when}, the self.{name} your _m_step set differs from the maximum-likelihood "
                f"update of the responsibilities it was given by up to {worst:.3g} relative to "
                f"its largest entry (tolerance {STEP_TOL:g}). The clustering is scored on your "
                "EM only when each M-step is that update: fix the M-step first (see the M-step "
                "tests).")


def _read_gmm(gmm, k: int, d: int, where: str):
    return received_gmm(where, gmm.means, gmm.covs, gmm.pi, k, d)


def _mean_log_likelihood(Z: np.ndarray, gamma: np.ndarray, theta) -> float:
    """``GMM._mean_log_likelihood`` (given code, the grader's copy) of ``theta`` on Z."""
    model = given.GMM(gamma.shape[1], Z.shape[1])
    model.means, model.covs, model.pi = theta
    return model._mean_log_likelihood(Z, gamma)


def fit_models(submission, X: np.ndarray, embedding_dim: int, n_components: int,
               max_iter: int, seed: int) -> FittedPipeline:
    """``train.fit_models(X, embedding_dim, n_components, max_iter, seed)`` with the student's
    PCA.fit, _e_step and _m_step, each checked; the rest is the grader's.

    Parameters
    ----------
    submission : the student's module (the ``submission`` proxy), or any module with PCA / GMM
    X : ndarray of shape (N, 784), the training pixels in [0, 1]
    embedding_dim, n_components, max_iter, seed : as ``train.fit_models``
    """
    k, d = n_components, embedding_dim
    components, mean = fit_pca(submission, X, d)
    fitted = FittedPipeline(components, mean, None, None, None, 0)
    Z = fitted.embed(np.asarray(X, dtype=np.float64))
    gmm = submission.GMM(n_components=k, data_dim=d)
    e_step, m_step = gmm._e_step, gmm._m_step
    # train.fit_models seeds numpy's global generator, which GMM.fit's KMeans then draws from
    # (PCA.fit draws nothing): a fresh RandomState(seed) is that generator.
    labels = KMeans(n_clusters=k, n_init=1, random_state=np.random.RandomState(seed)).fit(Z).labels_
    gamma = np.eye(k)[labels]
    m_step(Z, gamma)
    theta = _read_gmm(gmm, k, d, "after your _m_step on the KMeans labels")
    check_m_step(theta, Z, gamma, 0)
    lower_bound = -np.inf
    for iteration in range(1, max_iter + 1):
        previous = lower_bound
        gamma = received_array(f"_e_step(X) at EM iteration {iteration}", e_step(Z),
                               (Z.shape[0], k))
        check_e_step(gamma, Z, theta, iteration)
        lower_bound = _mean_log_likelihood(Z, gamma, theta)
        m_step(Z, gamma)
        theta = _read_gmm(gmm, k, d, f"after your _m_step at EM iteration {iteration}")
        check_m_step(theta, Z, gamma, iteration)
        fitted.n_iter = iteration
        if abs(lower_bound - previous) < TOL:
            break
    fitted.means, fitted.covs, fitted.pi = theta
    return fitted
