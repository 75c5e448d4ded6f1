"""Synthetic GMM problems of the hidden tests, made in the grader with fixed seeds."""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

SEED = int(os.environ.get("LAB_GMM_GRADER_SEED", "0"))


def random_spd(rng: np.random.Generator, k: int, d: int, scale: float = 1.0) -> np.ndarray:
    """K random symmetric positive-definite matrices of shape (K, D, D)."""
    a = rng.normal(size=(k, d, d))
    return scale * (a @ a.transpose(0, 2, 1) / d + 0.5 * np.eye(d))


def mixture(rng, n: int, d: int, k: int, spread: float = 3.0):
    """A small GMM problem: X (N, D) drawn from random means/covs, and those parameters."""
    means = rng.normal(scale=spread, size=(k, d))
    covs = random_spd(rng, k, d)
    pi = rng.dirichlet(np.full(k, 5.0))
    z = rng.choice(k, size=n, p=pi)
    chol = np.linalg.cholesky(covs)
    X = means[z] + np.einsum("nij,nj->ni", chol[z], rng.normal(size=(n, d)))
    return X, means, covs, pi


def high_dimensional(rng, d: int = 50, k: int = 4, per_cluster: int = 50, separation=60.0):
    """Well-separated clusters in D = 50 plus points between them.

    Between two clusters every density is below 1e-400: a density-space E-step divides 0 by 0.
    """
    means = separation * np.linalg.qr(rng.normal(size=(d, k)))[0].T
    covs = random_spd(rng, k, d, scale=1.0)
    pi = np.full(k, 1.0 / k)
    chol = np.linalg.cholesky(covs)
    parts = [means[j] + rng.normal(size=(per_cluster, d)) @ chol[j].T for j in range(k)]
    between = [0.5 * (means[i] + means[j]) + rng.normal(size=(3, d))
               for i in range(k) for j in range(i + 1, k)]
    return np.concatenate(parts + between), means, covs, pi


def remote_gmm(submission, means, covs, pi):
    """A GMM built in the sandbox with the given parameters (attributes set over the wire)."""
    gmm = submission.GMM(int(means.shape[0]), int(means.shape[1]))
    gmm.means = np.array(means)
    gmm.covs = np.array(covs)
    gmm.pi = np.array(pi)
    return gmm


def describe(array) -> str:
    """What came back, in words: type, shape and dtype."""
    if isinstance(array, np.ndarray):
        return f"ndarray of shape {array.shape}, dtype {array.dtype}"
    return f"{type(array).__name__}"


def call_in_sandbox(fixed, method, *args):
    """Call the remote ``method`` on arrays held in the sandbox; return (result, args after).

    The arrays travel once, into a ``functools.partial`` that stays in the sandbox, so the
    returned copies show whether the student's code modified its arguments in place.
    """
    call = fixed("functools").partial(method, *args)
    result = call()
    return result, call.args


def time_budget(reference_call, factor: float = 6.0, floor_s: float = 0.2, margin_s: float = 0.1
                ) -> float:
    """CPU seconds allowed for a student's call: ``factor`` times the reference's CPU time,
    measured now on one thread in the grader (the median of 3 runs), at least ``floor_s``, plus
    ``margin_s`` for decoding the arrays in the sandbox.

    CPU time, not wall-clock time, on both sides (the student's call is timed with the
    ``sandbox_cpu`` stopwatch): a loaded machine changes neither, and the sandbox is paused
    while the reference runs, so nothing the submission left running can slow it down. Free of
    the load's noise, the floor and margin are small: a per-sample loop (about 12 times the
    reference's E-step) is over the budget.
    """
    times = []
    with threadpool_limits(1):
        for _ in range(3):
            start = time.thread_time()
            reference_call()
            times.append(time.thread_time() - start)
    return max(floor_s, factor * statistics.median(times)) + margin_s
