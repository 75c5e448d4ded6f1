"""Hidden tests of neumann_inverse_hvp on dense symmetric positive-definite matrices.

H has eigenvalues 1, 1.35, ..., 4.5 and an isolated lambda_max = 5; the operator v -> H v is a
``toy_problem.DenseOperator`` built in the worker, the vector a list of two tensors.
"""

import numpy as np
import pytest
import torch
from reference import neumann_reference

from grading.received import describe, returned
from grading.rpc.errors import StudentError

SHAPES = [(3, 2), (6,)]
LAMBDA_MAX = 5.0


def _matrix(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    eigenvalues = np.append(np.linspace(1.0, 4.5, 11), LAMBDA_MAX)
    return (Q * eigenvalues) @ Q.T


def _split(v: np.ndarray) -> list[torch.Tensor]:
    return [torch.tensor(v[:6].reshape(3, 2)), torch.tensor(v[6:])]


def _neumann(submission, toy, H, v, K, alpha, finite: bool = True) -> np.ndarray:
    """The student's alpha * sum (I - alpha H)^j v, checked and flattened to float64 (12,)."""
    out = submission.neumann_inverse_hvp(toy.DenseOperator(H, SHAPES), _split(v), K, alpha)
    if type(out) not in (list, tuple) or len(out) != len(SHAPES):
        raise AssertionError(f"neumann_inverse_hvp must return a list of {len(SHAPES)} tensors "
                             f"shaped like the vector {SHAPES}; received {describe(out)}.")
    parts = [returned(t, f"tensor {i} of neumann_inverse_hvp's list", shape=shape,
                      finite=finite, hint="Return one tensor per tensor of the vector, each "
                                          "of its shape.")
             for i, (t, shape) in enumerate(zip(out, SHAPES, strict=True))]
    return np.concatenate([t.detach().numpy().astype(np.float64).reshape(-1) for t in parts])


@pytest.mark.points(4)
@pytest.mark.time_limit(30)
@pytest.mark.hint("v <- v - alpha H v; p <- p + v, K times, starting from p = v (the j = 0 "
                  "term), and return alpha * p.")
def test_neumann_matches_the_truncated_series(submission, toy):
    """neumann_inverse_hvp returns alpha * sum_{j=0}^{K} (I - alpha H)^j v (K = 0, 1, 5, 30)"""
    H = _matrix()
    v = np.random.default_rng(1).normal(size=12)
    alpha = 1.0 / LAMBDA_MAX
    for K in (0, 1, 5, 30):
        got = _neumann(submission, toy, H, v, K, alpha)
        expected = neumann_reference(H, v, K, alpha)
        error = np.linalg.norm(got - expected) / np.linalg.norm(expected)
        assert error <= 1e-10, f"K = {K}: relative error {error:.2e} against the series"


@pytest.mark.points(2)
@pytest.mark.time_limit(30)
@pytest.mark.hint("With alpha = 1 / lambda_max the terms shrink geometrically; many terms give "
                  "H^-1 v.")
def test_neumann_approaches_the_inverse(submission, toy):
    """neumann_inverse_hvp approaches H^-1 v as K grows (K = 10, 40, 200)"""
    H = _matrix(2)
    v = np.random.default_rng(2).normal(size=12)
    exact = np.linalg.solve(H, v)
    errors = [np.linalg.norm(_neumann(submission, toy, H, v, K, 1 / LAMBDA_MAX) - exact)
              / np.linalg.norm(exact) for K in (10, 40, 200)]
    assert errors[0] > errors[1] > errors[2] and errors[2] <= 1e-8, (
        f"relative errors to H^-1 v at K = 10, 40, 200: {', '.join(f'{e:.1e}' for e in errors)}"
        " (expected falling to <= 1e-8)")


@pytest.mark.points(2)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Each iteration compute q = <v, Hv> / <v, v> (a lower bound of lambda_max) "
                  "and raise NeumannDivergenceError as soon as alpha * q >= 2 - DIVERGENCE_TOL.")
@pytest.mark.parametrize("factor", [2.0, 3.0])
def test_neumann_reports_divergence(submission, toy, factor):
    """neumann_inverse_hvp raises NeumannDivergenceError for alpha >= 2 / lambda_max"""
    H = _matrix(3)
    v = np.random.default_rng(3).normal(size=12)
    alpha = factor / LAMBDA_MAX
    try:
        got = _neumann(submission, toy, H, v, 100, alpha, finite=False)
    except StudentError as exc:
        if exc.type_name != "NeumannDivergenceError":
            raise
        return
    raise AssertionError(f"alpha = {factor} / lambda_max: the series diverges, but a result "
                         f"came back (norm {np.linalg.norm(got):.3g}) instead of "
                         "NeumannDivergenceError")


@pytest.mark.points(2)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Raise only when alpha * q >= 2 - DIVERGENCE_TOL: the series converges for "
                  "every alpha < 2 / lambda_max.")
def test_neumann_accepts_convergent_steps(submission, toy):
    """neumann_inverse_hvp does not report divergence for alpha = 1, 1.5, 1.9 / lambda_max"""
    H = _matrix(4)
    v = np.random.default_rng(4).normal(size=12)
    for factor in (1.0, 1.5, 1.9):
        got = _neumann(submission, toy, H, v, 100, factor / LAMBDA_MAX)
        expected = neumann_reference(H, v, 100, factor / LAMBDA_MAX)
        error = np.linalg.norm(got - expected) / np.linalg.norm(expected)
        assert error <= 1e-10, f"alpha = {factor} / lambda_max: relative error {error:.2e}"
