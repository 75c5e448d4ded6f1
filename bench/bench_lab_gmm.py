"""lab_gmm: one EM iteration of the reference GMM vs scikit-learn's GaussianMixture, and the
class fidelity of DDPM and GMM samples.

EM: the same data (the MNIST sample's 4,000 training digits in PCA-50), the same parameters,
K = 10 full covariances, one thread; an iteration is E-step + lower bound + M-step for both.
Goal (lab_gmm issue): the reference takes at most 1.0x scikit-learn's time.

Generation (when ``python lab_gmm/load_resources.py`` has cached a DDPM): a logistic-regression
pixel classifier trained on the training digits labels 100 DDPM samples of each class, and 100
samples of the GMM component holding each digit; the share labelled as intended.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from common.data import load_mnist
from common.threads import set_thread_budget
from grading.examples import reference_module

LAB_DIR = Path(__file__).resolve().parent.parent / "lab_gmm"


def _em_iteration(ref, quick: bool) -> None:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    images, _ = load_mnist("sample", "train")
    X = images.reshape(len(images), -1).astype(np.float64)
    pca = ref.PCA(50)
    pca.fit(X)
    Z = pca.transform(X)
    ours = ref.GMM(10, 50).fit(Z, max_iter=5, random_state=0)
    with warnings.catch_warnings():  # 5 iterations do not converge, on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = GaussianMixture(10, covariance_type="full", reg_covar=1e-6, max_iter=5,
                                 random_state=0).fit(Z)
    ours.means, ours.covs, ours.pi = theirs.means_, theirs.covariances_, theirs.weights_

    def ours_step():
        gamma = ours._e_step(Z)
        ours._mean_log_likelihood(Z, gamma)
        ours._m_step(Z, gamma)

    def theirs_step():
        log_prob_norm, log_resp = theirs._e_step(Z)
        theirs._m_step(Z, log_resp)
        theirs._compute_lower_bound(log_resp, log_prob_norm)

    repeats = 5 if quick else 21
    wall, cpu = _interleaved(ours_step, theirs_step, repeats)
    print(f"{'one EM iteration (N=4000, D=50, K=10, 1 thread)':<50} {'wall ms':>8} {'CPU ms':>8}"
          f"   (medians of {repeats}, interleaved)")
    print(f"{'  reference GMM':<50} {1000 * wall[0]:8.1f} {1000 * cpu[0]:8.1f}")
    print(f"{'  sklearn GaussianMixture':<50} {1000 * wall[1]:8.1f} {1000 * cpu[1]:8.1f}")
    print(f"{'  ratio reference / sklearn (goal <= 1.0)':<50} {wall[2]:8.2f} {cpu[2]:8.2f}")

    # Whole fits from the same KMeans labels: both run EM to the same convergence test.
    labels = KMeans(10, n_init=1, random_state=0).fit(Z).labels_
    resp = np.eye(10)[labels]
    nk = resp.sum(axis=0)
    start = ref.GMM(10, 50)
    start._m_step(Z, resp)
    fits = {}

    def ours_fit():
        fits["ours"] = ref.GMM(10, 50).fit(Z, init_labels=labels)

    def theirs_fit():
        fits["theirs"] = GaussianMixture(
            10, covariance_type="full", reg_covar=1e-6, weights_init=nk / len(Z),
            means_init=start.means, precisions_init=np.linalg.inv(start.covs)).fit(Z)

    wall, cpu = _interleaved(ours_fit, theirs_fit, 3 if quick else 7)
    print(f"{'whole fit from the same KMeans labels':<50} {'wall ms':>8} {'CPU ms':>8}"
          f"   ({fits['ours'].n_iter_} and {fits['theirs'].n_iter_} iterations)")
    print(f"{'  reference GMM':<50} {1000 * wall[0]:8.1f} {1000 * cpu[0]:8.1f}")
    print(f"{'  sklearn GaussianMixture':<50} {1000 * wall[1]:8.1f} {1000 * cpu[1]:8.1f}")
    print(f"{'  ratio reference / sklearn':<50} {wall[2]:8.2f} {cpu[2]:8.2f}")


def _interleaved(first, second, repeats: int):
    """Median seconds of ``first`` and ``second`` and median of their per-round ratio, in wall
    time and in CPU time (robust to other processes on a loaded machine), one call of each per
    round so that both see the same load."""
    first(), second()  # warm-up
    rounds = {"wall": [], "cpu": []}
    for _ in range(repeats):
        times = []
        for fn in (first, second):
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times.append((time.perf_counter() - wall, time.process_time() - cpu))
        rounds["wall"].append((times[0][0], times[1][0]))
        rounds["cpu"].append((times[0][1], times[1][1]))
    return [(statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs),
             statistics.median(a / b for a, b in pairs)) for pairs in rounds.values()]


def _generation(ref, quick: bool) -> None:
    import torch
    from sklearn.linear_model import LogisticRegression

    sys.path.insert(0, str(LAB_DIR))
    try:
        from load_resources import load_ddpm

        ddpm = load_ddpm()
    except Exception as exc:  # noqa: BLE001 - the DDPM is trained by load_resources.py
        print(f"generation: skipped ({exc})")
        return
    finally:
        sys.path.remove(str(LAB_DIR))
    images, labels = load_mnist("sample", "train")
    X = images.reshape(len(images), -1).astype(np.float64)
    classifier = LogisticRegression(max_iter=300, C=0.1).fit(X, labels)
    classes = [6] if quick else list(range(10))
    per_class = 100
    wanted = np.repeat(classes, per_class)
    ddpm_images = ddpm.sample(wanted, generator=torch.Generator().manual_seed(0))
    ddpm_hits = classifier.predict(ddpm_images.reshape(len(wanted), -1)) == wanted
    pca = ref.PCA(50)
    pca.fit(X)
    gmm = ref.GMM(10, 50).fit(pca.transform(X), random_state=0)
    owner = [np.bincount(gmm.predict(pca.transform(X[labels == c])), minlength=10).argmax()
             for c in classes]
    rng = np.random.default_rng(0)
    gmm_images = np.concatenate([
        np.clip(pca.inverse_transform(rng.multivariate_normal(gmm.means[k], gmm.covs[k],
                                                              size=per_class)), 0, 1)
        for k in owner])
    gmm_hits = classifier.predict(gmm_images) == wanted
    print(f"{'samples labelled as their class by a pixel classifier':<50} {'DDPM':>6} {'GMM':>6}")
    for i, c in enumerate(classes):
        part = slice(i * per_class, (i + 1) * per_class)
        name = f"  class {c}"
        print(f"{name:<50} {ddpm_hits[part].mean():6.0%} {gmm_hits[part].mean():6.0%}")
    print(f"{'  all (goal for the DDPM: >= 80% per class)':<50} {ddpm_hits.mean():6.0%} "
          f"{gmm_hits.mean():6.0%}")


def run(quick: bool = False) -> None:
    set_thread_budget(1)
    ref = reference_module(LAB_DIR)
    _em_iteration(ref, quick)
    _generation(ref, quick)
