"""Hidden tests of GMM._e_step (10 points)."""


import numpy as np
import pytest
from gmm_reference import log_responsibilities
from problems import (
    SEED,
    call_in_sandbox,
    high_dimensional,
    mixture,
    remote_gmm,
    time_budget,
)
from received import received_array, received_tuple

ORIGINAL_DIM = 10  # the original lab's default PCA dimension (train.py)


def _check_gamma(gamma, n, k) -> np.ndarray:
    """gamma as float64 once it is a real (N, K) = (n, k) array without NaN or inf rows."""
    gamma = received_array("gamma, the result of _e_step(X)", gamma, (n, k), finite=False)
    bad_rows = int((~np.isfinite(gamma)).any(axis=1).sum())
    assert bad_rows == 0, (
        f"gamma has NaN or infinite values in {bad_rows} of {n} rows. Where every density "
        "underflows to 0, pi_k N(x|k) / sum_j pi_j N(x|j) is 0/0: work with log densities and "
        "subtract the row maximum (log-sum-exp) before exponentiating.")
    return gamma


@pytest.mark.points(4)
@pytest.mark.time_limit(20)
@pytest.mark.hint("gamma[n, k] = pi_k N(x_n | mu_k, Sigma_k) / sum_j pi_j N(x_n | mu_j, Sigma_j).")
def test_e_step_matches_reference(submission):
    """E-step: responsibilities match the reference (N = 300, D = 4, K = 3)"""
    X, means, covs, pi = mixture(np.random.default_rng(100 + SEED), 300, 4, 3)
    gamma = remote_gmm(submission, means, covs, pi)._e_step(X)
    gamma = _check_gamma(gamma, 300, 3)
    row_error = np.abs(gamma.sum(axis=1) - 1.0).max()
    assert row_error <= 1e-8, (
        f"each row of gamma must sum to 1; a row's sum is off by {row_error:.3g}. Divide by "
        "the row sum (the normalisation over k).")
    expected = np.exp(log_responsibilities(X, means, covs, pi)[0])
    worst = np.abs(gamma - expected).max()
    assert worst < 1e-6, (
        f"gamma differs from the expected responsibilities by up to {worst:.3g} (tolerance "
        "1e-6). Check the weighting by pi_k and which covariance each component uses.")


@pytest.mark.points(3)
@pytest.mark.time_limit(20)
@pytest.mark.hint("gamma[n, k] = pi_k N(x_n | mu_k, Sigma_k) / sum_j pi_j N(x_n | mu_j, Sigma_j), "
                  "for every sample, including those far from every component.")
def test_e_step_original_dimension(submission):
    """E-step at the original lab's PCA dimension (D = 10, separated clusters, points between)"""
    X, means, covs, _ = high_dimensional(np.random.default_rng(250 + SEED), d=ORIGINAL_DIM,
                                         separation=30.0)
    pi = np.array([0.1, 0.2, 0.3, 0.4])  # unequal weights: pi_k must weigh each density
    gamma = remote_gmm(submission, means, covs, pi)._e_step(X)
    gamma = _check_gamma(gamma, X.shape[0], len(pi))
    expected = np.exp(log_responsibilities(X, means, covs, pi)[0])
    worst = np.abs(gamma - expected).max()
    assert worst < 1e-6, (
        f"gamma differs from the expected responsibilities by up to {worst:.3g} (tolerance 1e-6)"
        " in D = 10, for points in and between the clusters.")


@pytest.mark.points(0)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Extension (0 points): in D = 50 densities underflow to 0. Compute "
                  "log(pi_k) + log N(x | k) for every k, subtract the row maximum, then "
                  "exponentiate and normalise (README, section 1.1).")
def test_e_step_high_dimension(submission):
    """Extension (0 points): E-step in high dimension (D = 50, points between far clusters)"""
    X, means, covs, pi = high_dimensional(np.random.default_rng(200 + SEED))
    gamma = remote_gmm(submission, means, covs, pi)._e_step(X)
    gamma = _check_gamma(gamma, X.shape[0], len(pi))
    expected = np.exp(log_responsibilities(X, means, covs, pi)[0])
    worst = np.abs(gamma - expected).max()
    assert worst < 1e-6, (
        f"gamma differs from the expected responsibilities by up to {worst:.3g} (tolerance 1e-6)"
        " for points far from every cluster, where all densities underflow.")


@pytest.mark.points(1)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Write X - mean (a new array), never X -= mean.")
def test_e_step_keeps_inputs(submission, fixed):
    """E-step leaves X and the parameters unchanged"""
    X, means, covs, pi = mixture(np.random.default_rng(300 + SEED), 200, 3, 2)
    gmm = remote_gmm(submission, means, covs, pi)
    _, args = call_in_sandbox(fixed, gmm._e_step, X)
    (X_after,) = received_tuple("the arguments of _e_step, read back", args, 1)
    X_after = received_array("X after _e_step(X)", X_after, X.shape, finite=False)
    assert np.array_equal(X_after, X), "_e_step modified its argument X in place"
    for name, before in (("means", means), ("covs", covs), ("pi", pi)):
        after = getattr(gmm, name)
        assert isinstance(after, np.ndarray) and np.array_equal(after, before), (
            f"_e_step changed self.{name}; the E-step only reads the parameters")


@pytest.mark.points(2)
@pytest.mark.time_limit(40)
@pytest.mark.slow_hint("A loop over the N samples (a density per sample, np.apply_along_axis) is "
                       "what usually makes the E-step slow: compute each component's log "
                       "density for all samples at once, from (X - mu_k) and one solve with "
                       "Sigma_k.")
@pytest.mark.hint("Loop over the K components at most, never over the N samples: one "
                  "vectorised expression per component (matrix products, np.sum over an axis).")
def test_e_step_speed(submission, sandbox_cpu):
    """E-step is vectorised: N = 20,000, D = 50, K = 10 within the time budget"""
    rng = np.random.default_rng(400 + SEED)
    X, means, covs, pi = mixture(rng, 20_000, 50, 10, spread=1.0)
    gmm = remote_gmm(submission, means, covs, pi)
    budget = time_budget(lambda: np.exp(log_responsibilities(X, means, covs, pi)[0]))
    gmm._e_step(X[:100])  # warm-up
    with sandbox_cpu() as used:
        gamma = gmm._e_step(X)
    _check_gamma(gamma, 20_000, 10)
    assert used.seconds < budget, (
        f"_e_step used {used.seconds:.2f} s of CPU time on 20,000 x 50 data with 10 components; "
        f"the budget is {budget:.2f} s (about 6 times a vectorised E-step, timed on this machine "
        "in CPU time, so the machine's load does not change it)")
