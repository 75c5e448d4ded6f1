"""Public tests of lab_data_selection: quick checks you can run with `python -m pytest tests`
(the graded tests are more thorough). Expected values come from the lab's toy_problem.py
(exact Hessians, Newton's method and finite differences), computed outside your code."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from grading.rpc.errors import StudentError

LAB_DIR = Path(__file__).resolve().parents[1]


def _toy_here():
    spec = importlib.util.spec_from_file_location("toy_problem_public", LAB_DIR / "toy_problem.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _small_problem(seed=0, n=80):
    from common.data import load_digits_split

    d = load_digits_split()
    keep = np.isin(d.y_val, (6, 7))
    lam = np.random.default_rng(seed).normal(size=n)
    return (d.X_train[:n].astype(np.float64), d.y_train[:n], d.X_val[keep].astype(np.float64),
            d.y_val[keep], lam)


@pytest.mark.points(0)
def test_weighted_loss_equal_weights_is_the_mean(submission):
    """weighted_train_loss: equal log-weights give the mean; weights follow exp(lambda)"""
    losses = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    mean = float(submission.weighted_train_loss(losses, torch.zeros(3, dtype=torch.float64)))
    assert mean == pytest.approx(7 / 3), f"expected the mean 2.3333, got {mean:.4f}"
    log_weights = torch.tensor([0.0, np.log(2.0), np.log(5.0)], dtype=torch.float64)
    got = float(submission.weighted_train_loss(losses, log_weights))
    assert got == pytest.approx((1 + 4 + 20) / 8), f"expected 3.125, got {got:.4f}"


@pytest.mark.points(0)
def test_hvp_matches_the_exact_hessian(submission, fixed):
    """hessian_vector_product: equals the exact Hessian times v (small softmax regression)"""
    X, y, Xv, yv, lam = _small_problem()
    here = _toy_here().SoftmaxRegressionProblem(X, y, Xv, yv, lam)
    theta = np.random.default_rng(1).normal(0, 0.1, len(here.flat_params()))
    here.set_flat_params(theta)
    v = np.random.default_rng(2).normal(size=len(theta))
    expected = here.dense_hessian().numpy() @ v
    there = fixed("toy_problem").SoftmaxRegressionProblem(X, y, Xv, yv, lam,
                                                           theta=torch.tensor(theta))
    got = np.asarray(there.product(torch.tensor(v)))
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-12)


@pytest.mark.points(0)
def test_neumann_inverts_a_diagonal_matrix(submission, fixed):
    """neumann_inverse_hvp: many terms of the series give H^-1 v"""
    H = np.diag([1.0, 2.0, 4.0])
    op = fixed("toy_problem").DenseOperator(H, [(3,)])
    v = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    got = submission.neumann_inverse_hvp(op, [v], 200, 0.25)
    np.testing.assert_allclose(np.asarray(got[0]), [1.0, 0.5, 0.25], rtol=1e-8)


@pytest.mark.points(0)
def test_neumann_reports_divergence(submission, fixed):
    """neumann_inverse_hvp: alpha = 3 / lambda_max raises NeumannDivergenceError"""
    op = fixed("toy_problem").DenseOperator(np.diag([1.0, 2.0, 4.0]), [(3,)])
    v = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    try:
        got = submission.neumann_inverse_hvp(op, [v], 50, 0.75)
    except StudentError as exc:
        if exc.type_name != "NeumannDivergenceError":
            raise
        return
    raise AssertionError(f"the series diverges, but a result came back ({got}) instead of "
                         "NeumannDivergenceError")


@pytest.mark.points(0)
@pytest.mark.time_limit(60)
def test_hypergradient_sign_by_finite_differences(submission, fixed):
    """hypergradient: the derivative along it matches a finite difference (small problem)"""
    X, y, Xv, yv, lam = _small_problem()
    here = _toy_here().SoftmaxRegressionProblem(X, y, Xv, yv, lam)
    here.solve()
    theta = here.flat_params()
    there = fixed("toy_problem").SoftmaxRegressionProblem(X, y, Xv, yv, lam, theta=theta)
    g = np.asarray(there.hypergradient())
    assert np.linalg.norm(g) > 0, "the hypergradient is zero"
    u = g / np.linalg.norm(g)
    fd = here.finite_difference(u)
    assert fd == pytest.approx(float(g @ u), rel=1e-4), (
        f"along your hypergradient, finite differences give {fd:.6g} and yours {g @ u:.6g}"
        + (" (the sign is flipped)" if fd < 0 else ""))
