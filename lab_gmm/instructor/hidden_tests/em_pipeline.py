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

Recomputing every step in full would double the cost of grading EM. So the check is in full (every
row, every entry) at the iterations of :func:`checked_in_full` (0, 1, 2 and the last),
which a submission that is wrong throughout fails at once, the same way on every run; at the other
iterations it is a spot check with randomness the sandbox cannot predict (the operating system's):
the responsibilities of :data:`SPOT_ROWS` random rows, and the M-step's weights and means in full
but its covariances along :data:`SKETCH_DIRECTIONS` random directions (``V^T C V`` for a random
V (d, m), which any material change of C changes). A step that departs from EM anywhere material
is caught, whichever iteration it picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gmm_reference import REG_COVAR, given, log_responsibilities, m_step
from received import received_array, received_gmm
from sklearn.cluster import KMeans

from grading.rpc.proxy import kept_beside

TOL = 1e-3  # GMM.fit's default: stop when the mean log-likelihood moves less than this
STEP_TOL = 1e-4  # a step's largest deviation from the grader's step (relative for parameters)
SPOT_ROWS = 512  # rows whose responsibilities a spot check recomputes
SKETCH_DIRECTIONS = 8  # random directions along which a spot check compares covariances


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


def checked_in_full(iteration: int, last: bool) -> bool:
    """True at the iterations whose step is recomputed in full: 0 (the M-step on the KMeans
    labels), 1, 2 and the last."""
    return last or iteration <= 2


def _worst(got: np.ndarray, want: np.ndarray, relative: bool) -> float:
    scale = max(float(np.abs(want).max()), np.finfo(float).tiny) if relative else 1.0
    return float(np.abs(got - want).max()) / scale


class StepChecker:
    """Checks each EM step of a submission against the grader's own step.

    Z: ndarray (N, d), the embedded training digits; rng: the spot checks' randomness (by default
    fresh from the operating system, which the sandbox cannot predict).
    """

    def __init__(self, Z: np.ndarray, rng: np.random.Generator | None = None):
        self.Z = Z
        self.rng = rng if rng is not None else np.random.default_rng()

    def e_step(self, gamma: np.ndarray, theta, iteration: int, full: bool) -> None:
        """AssertionError unless ``gamma`` (N, K) is the E-step of ``theta`` = (means, covs, pi)
        within STEP_TOL: on every row when ``full``, else on SPOT_ROWS random rows."""
        rows = slice(None)
        if not full and len(self.Z) > SPOT_ROWS:
            rows = np.sort(self.rng.choice(len(self.Z), SPOT_ROWS, replace=False))
        expected = np.exp(log_responsibilities(self.Z[rows], *theta)[0])
        worst = _worst(gamma[rows], expected, relative=False)
        if worst > STEP_TOL:
            raise AssertionError(
                f"at EM iteration {iteration}, the responsibilities your _e_step returned differ "
                f"from those of the model's current parameters by up to {worst:.3g} (tolerance "
                f"{STEP_TOL:g}). The clustering is scored on your EM only when each E-step gives "
                "the responsibilities of self.means, self.covs and self.pi: fix the E-step first "
                "(see the E-step tests).")

    def m_step(self, theta, gamma: np.ndarray, iteration: int, full: bool) -> None:
        """AssertionError unless ``theta`` = (means, covs, pi) is the M-step of (Z, gamma), each
        array within STEP_TOL of the grader's update relative to its largest entry; when not
        ``full``, the covariances are compared along random directions (V^T C V)."""
        if full:
            pi, means, covs = m_step(self.Z, gamma)
            got_covs = theta[1]
        else:
            nk = gamma.sum(axis=0)
            pi, means = nk / len(self.Z), gamma.T @ self.Z / nk[:, None]
            covs, got_covs = self._sketched_covs(means, gamma, nk, theta[1])
        expected = {"means": means, "covs": covs, "pi": pi}
        for name, got in zip(("means", "covs", "pi"), (theta[0], got_covs, theta[2]),
                             strict=True):
            worst = _worst(got, expected[name], relative=True)
            if worst > STEP_TOL:
                when = ("from the KMeans labels" if iteration == 0
                        else f"at EM iteration {iteration}")
                raise AssertionError(
                    f"{when}, the self.{name} your _m_step set differs from the maximum-likelihood "
                    f"update of the responsibilities it was given by up to {worst:.3g} relative "
                    f"to its largest entry (tolerance {STEP_TOL:g}). The clustering is scored on "
                    "your EM only when each M-step is that update: fix the M-step first (see the "
                    "M-step tests).")

    def _sketched_covs(self, means, gamma, nk, got_covs) -> tuple[np.ndarray, np.ndarray]:
        """(V^T C_k V for the ML covariances C_k, the same of ``got_covs``), each (K, m, m), for
        a random V (d, m): the expected side costs O(N d m), not O(N d^2) per component."""
        V = self.rng.standard_normal((self.Z.shape[1], SKETCH_DIRECTIONS))
        ZV, meansV = self.Z @ V, means @ V
        want = np.empty((len(nk), SKETCH_DIRECTIONS, SKETCH_DIRECTIONS))
        for k in range(len(nk)):
            diff = ZV - meansV[k]
            want[k] = (gamma[:, k, None] * diff).T @ diff / nk[k] + REG_COVAR * V.T @ V
        return want, np.einsum("di,kde,ej->kij", V, got_covs, V)


def _read_gmm(gmm, k: int, d: int, where: str):
    return received_gmm(where, gmm.means, gmm.covs, gmm.pi, k, d)


def _mean_log_likelihood(Z: np.ndarray, gamma: np.ndarray, theta) -> float:
    """``GMM._mean_log_likelihood`` (given code, the grader's copy) of ``theta`` on Z."""
    model = given.GMM(gamma.shape[1], Z.shape[1])
    model.means, model.covs, model.pi = theta
    with np.errstate(all="ignore"):  # responsibilities not checked yet: a NaN here is harmless
        return model._mean_log_likelihood(Z, gamma)


def fit_models(submission, X: np.ndarray, embedding_dim: int, n_components: int,
               max_iter: int, seed: int, rng: np.random.Generator | None = None
               ) -> FittedPipeline:
    """``train.fit_models(X, embedding_dim, n_components, max_iter, seed)`` with the student's
    PCA.fit, _e_step and _m_step, each checked; the rest is the grader's.

    Parameters
    ----------
    submission : the student's module (the ``submission`` proxy), or any module with PCA / GMM
    X : ndarray of shape (N, 784), the training pixels in [0, 1]
    embedding_dim, n_components, max_iter, seed : as ``train.fit_models``
    rng : the spot checks' randomness (:class:`StepChecker`); by default the operating system's
    """
    k, d = n_components, embedding_dim
    components, mean = fit_pca(submission, X, d)
    fitted = FittedPipeline(components, mean, None, None, None, 0)
    Z = fitted.embed(np.asarray(X, dtype=np.float64))
    gmm = submission.GMM(n_components=k, data_dim=d)
    e_step, m_step = gmm._e_step, gmm._m_step
    Z_sent = kept_beside(gmm, Z)  # sent once; each call gets its own copy
    # train.fit_models seeds numpy's global generator, which GMM.fit's KMeans then draws from
    # (PCA.fit draws nothing): a fresh RandomState(seed) is that generator.
    labels = KMeans(n_clusters=k, n_init=1, random_state=np.random.RandomState(seed)).fit(Z).labels_
    check = StepChecker(Z, rng)
    gamma = np.eye(k)[labels]
    m_step(Z_sent, gamma)
    theta = _read_gmm(gmm, k, d, "after your _m_step on the KMeans labels")
    check.m_step(theta, gamma, 0, full=True)
    lower_bound = -np.inf
    for iteration in range(1, max_iter + 1):
        previous = lower_bound
        gamma = received_array(f"_e_step(X) at EM iteration {iteration}", e_step(Z_sent),
                               (Z.shape[0], k))
        lower_bound = _mean_log_likelihood(Z, gamma, theta)
        last = iteration == max_iter or abs(lower_bound - previous) < TOL
        full = checked_in_full(iteration, last)
        check.e_step(gamma, theta, iteration, full)
        m_step(Z_sent, gamma)
        theta = _read_gmm(gmm, k, d, f"after your _m_step at EM iteration {iteration}")
        check.m_step(theta, gamma, iteration, full)
        fitted.n_iter = iteration
        if last:
            break
    fitted.means, fitted.covs, fitted.pi = theta
    return fitted
