"""Hidden tests of GMM._m_step (10 points)."""


import types

import numpy as np
import pytest
from gmm_reference import REG_COVAR, m_step
from problems import SEED, call_in_sandbox, mixture, remote_gmm, time_budget
from received import received_array, received_tuple


def _reference_m_step(X, gamma):
    """The grader's M-step as an object with the attributes the lab's GMM has."""
    pi, means, covs = m_step(X, gamma)
    return types.SimpleNamespace(pi=pi, means=means, covs=covs)


def _covs_error(covs: np.ndarray, want: np.ndarray) -> float:
    """The largest deviation of ``covs`` from the reference's ``want`` (with 1e-6 I), or from
    it without the 1e-6 I if that is closer: the regulariser is optional, as in the original
    lab, and both conventions are graded the same."""
    without = want - REG_COVAR * np.eye(want.shape[-1])
    return float(min(np.abs(covs - want).max(), np.abs(covs - without).max()))


def _parameters(gmm, k, d) -> dict[str, np.ndarray]:
    """self.pi (K,), self.means (K, D), self.covs (K, D, D) read back after _m_step, each a
    finite real array of exactly that shape (float64)."""
    shapes = {"pi": (k,), "means": (k, d), "covs": (k, d, d)}
    return {name: received_array(f"self.{name} after _m_step", getattr(gmm, name), shape)
            for name, shape in shapes.items()}


@pytest.mark.points(4)
@pytest.mark.time_limit(20)
@pytest.mark.hint("N_k = sum_n gamma_nk; pi_k = N_k / N; mu_k = sum_n gamma_nk x_n / N_k; "
                  "Sigma_k = sum_n gamma_nk (x_n - mu_k)(x_n - mu_k)^T / N_k (+ 1e-6 I, "
                  "optional).")
def test_m_step_matches_reference(submission):
    """M-step: pi, means and covs match the reference (N = 300, D = 4, K = 3)"""
    rng = np.random.default_rng(500 + SEED)
    X, means, covs, pi = mixture(rng, 300, 4, 3)
    gamma = rng.dirichlet(np.ones(3), size=300)
    gmm = remote_gmm(submission, means, covs, pi)
    gmm._m_step(X, gamma)
    got = _parameters(gmm, 3, 4)
    expected = _reference_m_step(X, gamma)
    for name in ("pi", "means", "covs"):
        want = getattr(expected, name)
        worst = (_covs_error(got[name], want) if name == "covs"
                 else np.abs(got[name] - want).max())
        assert worst < 1e-8 * max(1.0, np.abs(want).max()), (
            f"self.{name} differs from the maximum-likelihood update by up to {worst:.3g}"
            + (" (do you weight by gamma and divide by N_k?)" if name == "covs" else ""))


@pytest.mark.points(3)
@pytest.mark.time_limit(20)
@pytest.mark.hint("On data in a subspace the covariances are singular: still the weighted "
                  "maximum-likelihood update, symmetric (adding 1e-6 * np.eye(D) keeps them "
                  "invertible for the next E-step; optional).")
def test_m_step_covariances_positive_definite(submission):
    """M-step: symmetric covariances, the ML update (1e-6 I optional), on degenerate data"""
    rng = np.random.default_rng(600 + SEED)
    X = np.zeros((240, 6))
    X[:, :3] = rng.normal(size=(240, 3)) @ rng.normal(size=(3, 3))
    X[:, 3] = X[:, 0] - 2 * X[:, 1]  # rank 3: column 3 depends on 0 and 1
    X[:, 4] = 1.0  # columns 4 and 5 are constant
    gamma = np.zeros((240, 2))
    gamma[np.arange(240), np.arange(240) % 2] = 1.0
    gmm = remote_gmm(submission, np.zeros((2, 6)), np.tile(np.eye(6), (2, 1, 1)), np.ones(2) / 2)
    gmm._m_step(X, gamma)
    covs = _parameters(gmm, 2, 6)["covs"]
    asymmetry = np.abs(covs - covs.transpose(0, 2, 1)).max()
    assert asymmetry <= 1e-10 * np.abs(covs).max(), (
        f"the covariances are not symmetric (|S - S^T| up to {asymmetry:.3g})")
    smallest = np.linalg.eigvalsh(covs).min()
    assert smallest > -1e-9, (
        f"a covariance has a negative eigenvalue ({smallest:.3g}): it is not a covariance.")
    worst = _covs_error(covs, _reference_m_step(X, gamma).covs)
    assert worst < 1e-9, f"the covariances differ from the reference by up to {worst:.3g}"


@pytest.mark.points(1)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Compute X - mu_k and gamma-weighted copies as new arrays; never write into X "
                  "or gamma.")
def test_m_step_keeps_inputs(submission, fixed):
    """M-step leaves X and gamma unchanged"""
    rng = np.random.default_rng(700 + SEED)
    X, means, covs, pi = mixture(rng, 200, 3, 2)
    gamma = rng.dirichlet(np.ones(2), size=200)
    gmm = remote_gmm(submission, means, covs, pi)
    _, args = call_in_sandbox(fixed, gmm._m_step, X, gamma)
    X_after, gamma_after = received_tuple("the arguments of _m_step, read back", args, 2)
    X_after = received_array("X after _m_step(X, gamma)", X_after, X.shape, finite=False)
    gamma_after = received_array("gamma after _m_step(X, gamma)", gamma_after, gamma.shape,
                                 finite=False)
    assert np.array_equal(X_after, X), "_m_step modified its argument X in place"
    assert np.array_equal(gamma_after, gamma), "_m_step modified its argument gamma in place"


@pytest.mark.points(2)
@pytest.mark.time_limit(40)
@pytest.mark.slow_hint("A loop over the N samples (np.outer per sample) is what usually makes the "
                       "M-step slow: Sigma_k = (gamma_k * diff).T @ diff / N_k is one matrix "
                       "product per component.")
@pytest.mark.hint("Loop over the K components at most: Sigma_k = (gamma_k * diff).T @ diff / N_k "
                  "is one matrix product; a loop over samples is thousands of times slower.")
def test_m_step_speed(submission, sandbox_cpu):
    """M-step is vectorised: N = 20,000, D = 50, K = 10 within the time budget"""
    rng = np.random.default_rng(800 + SEED)
    X, means, covs, pi = mixture(rng, 20_000, 50, 10, spread=1.0)
    gamma = rng.dirichlet(np.ones(10), size=20_000)
    gmm = remote_gmm(submission, means, covs, pi)
    budget = time_budget(lambda: _reference_m_step(X, gamma))
    gmm._m_step(X[:100], gamma[:100])  # warm-up
    with sandbox_cpu() as used:
        gmm._m_step(X, gamma)
    _parameters(gmm, 10, 50)
    assert used.seconds < budget, (
        f"_m_step used {used.seconds:.2f} s of CPU time on 20,000 x 50 data with 10 components; "
        f"the budget is {budget:.2f} s (about 6 times a vectorised M-step, timed on this machine "
        "in CPU time, so the machine's load does not change it)")
