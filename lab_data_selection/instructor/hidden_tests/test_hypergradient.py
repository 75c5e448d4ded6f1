"""Hidden tests of hypergradient on the exact problem: weighted softmax regression on sklearn's
digits in float64 (L2 1e-2, weights sigmoid(lambda), validation set = the 6s and 7s).

The worker gets the data, lambda and w*(lambda) (solved here by Newton's method) and runs the
student's hypergradient through the lab's ``toy_problem.SoftmaxRegressionProblem``; finite
differences of lambda -> L_V(w*(lambda)) and the exact implicit hypergradient are computed here.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch
from selection_checks import flat_vector, relative_error


def _worker_problem(toy, problem, theta):
    return toy.SoftmaxRegressionProblem(problem.X, problem.y, problem.Xv, problem.yv,
                                        problem.lam, theta=torch.tensor(theta), l2=problem.l2,
                                        direct=problem.direct)


@pytest.mark.points(10)
@pytest.mark.time_limit(120)
@pytest.mark.hint("dL_V/dlambda = direct - (d^2 L_T / dlambda dw^T) H^-1 dL_V/dw: the minus "
                  "sign comes from dw*/dlambda = -H^-1 d^2 L_T / dw dlambda^T. Compute the mixed "
                  "term as the gradient with respect to lambda of (dL_T/dw) . p. Both losses "
                  "come from functions: call train_loss_fn() and val_loss_fn() (the original "
                  "assignment's step() received the validation loss as a tensor).")
def test_exact_hypergradient_matches_finite_differences(submission, toy, exact):
    """hypergradient (exact H^-1) matches central finite differences of L_V(w*(lambda))"""
    problem, theta = exact.problem, exact.theta
    got = flat_vector(_worker_problem(toy, problem, theta).hypergradient(), "hypergradient",
                  len(problem.lam))
    if not np.linalg.norm(got) > 0:
        raise AssertionError("your hypergradient is zero; L_V depends on lambda through w*")
    rng = np.random.default_rng(11)
    directions = [got / np.linalg.norm(got)] + [rng.normal(size=len(got)) for _ in range(2)]
    directions = [u / np.linalg.norm(u) for u in directions]
    fd = np.array([problem.finite_difference(theta, u) for u in directions])
    yours = np.array([got @ u for u in directions])
    error = float(np.linalg.norm(fd - yours) / np.linalg.norm(fd))
    assert error <= 1e-4, (
        f"your directional derivatives (along your hypergradient and two random directions) "
        f"disagree with central finite differences of L_V(w*(lambda)): relative error "
        f"{error:.2e} (<= 1e-4). "
        + ("Your sign is flipped: L_V decreases along your hypergradient." if fd[0] < 0 else
           "Check the mixed term and the inverse Hessian product."))


@pytest.mark.points(3)
@pytest.mark.time_limit(90)
@pytest.mark.hint("When L_V depends on lambda directly, dL_V/dlambda_direct (a plain "
                  "torch.autograd.grad of L_V) is added; where it does not, it is zero.")
def test_hypergradient_includes_the_direct_term(submission, toy, exact):
    """hypergradient adds dL_V/dlambda when the validation loss uses lambda directly"""
    problem = replace(exact.problem, direct=0.5)  # w*(lambda) does not depend on L_V
    got = flat_vector(_worker_problem(toy, problem, exact.theta).hypergradient(), "hypergradient",
                  len(problem.lam))
    error = relative_error(got, problem.hypergradient(exact.theta))
    assert error <= 1e-6, f"relative error {error:.2e} against the exact hypergradient (<= 1e-6)"


@pytest.mark.points(7)
@pytest.mark.time_limit(90)
@pytest.mark.hint("Pass v -> neumann_inverse_hvp(hvp, v, K, alpha) as inverse_hvp; with "
                  "alpha = 1 / lambda_max the error shrinks like (1 - lambda_min / lambda_max)^K.")
def test_neumann_hypergradient_converges_to_the_exact_one(submission, toy, exact):
    """hypergradient with the Neumann series: cosine >= 0.99 at K = 100, error falling with K"""
    problem = _worker_problem(toy, exact.problem, exact.theta)
    alpha = 1.0 / exact.lambda_max
    errors, cosines = [], []
    for K in (10, 30, 100):
        got = flat_vector(problem.hypergradient(K=K, alpha=alpha), "hypergradient",
                      len(exact.hypergradient))
        errors.append(relative_error(got, exact.hypergradient))
        cosines.append(float(got @ exact.hypergradient / (
            np.linalg.norm(got) * np.linalg.norm(exact.hypergradient) + 1e-300)))
    table = ", ".join(f"K={K}: cos {c:.4f}, error {e:.2e}"
                      for K, c, e in zip((10, 30, 100), cosines, errors, strict=True))
    assert cosines[-1] >= 0.99, f"cosine with the exact hypergradient: {table} (>= 0.99 at 100)"
    assert errors[0] > errors[1] > errors[2] and errors[2] <= 0.01, (
        f"the relative error must fall with K, to <= 0.01 at K = 100: {table}")
