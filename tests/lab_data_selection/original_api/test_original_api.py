"""Submissions written against the original assignment's API: its name ``sample_weights`` for the
log-weights, the tuples ``torch.autograd.grad`` returns, its ``step()`` as the hypergradient,
its weighted loss, its Neumann solve, its validation loss as a tensor. Each is graded with
``python -m grading grade-one``, as a TA grades one student, and must get the score its code
deserves, pinned in ``expected.json`` with a reason its feedback must give and why."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import torch

from grading.examples import apply_patch
from tests.original_api import check_pinned, grade_one, load_pins

from ..conftest import LAB_DIR, reference_lab

HERE = Path(__file__).resolve().parent
EXPECTED = load_pins(HERE)


def source(name: str) -> str:
    """The submission ``name``: ``original_names.py``, or that with ``name``.py (one mistake of
    the original's code) appended, its definitions replacing those there."""
    base = (HERE / "original_names.py").read_text()
    if name == "original_names":
        return base
    return apply_patch(base, (HERE / f"{name}.py").read_text())


def _module(name: str) -> types.ModuleType:
    """The submission ``name`` as a fresh module named ``submission``."""
    module = types.ModuleType("submission")
    exec(compile(source(name), str(HERE / f"{name}.py"), "exec"), module.__dict__)
    return module


def test_every_submission_is_pinned():
    assert sorted(p.stem for p in HERE.glob("original_*.py")) == sorted(EXPECTED)


def _answers(submission, problem, theta, direct: float) -> list[torch.Tensor]:
    """H v, G v, the Neumann series (K = 30) and the hypergradient of ``submission`` on the
    exact problem at ``theta``."""
    with reference_lab(submission) as import_module:
        exact = import_module("toy_problem").SoftmaxRegressionProblem(
            problem.X, problem.y, problem.Xv, problem.yv, problem.lam, theta=theta,
            direct=direct)
        v = torch.tensor(np.random.default_rng(1).normal(size=theta.numel()))
        return [exact.product(v), exact.product(v, gauss_newton=True), exact.neumann(v, 30, 2.0),
                exact.hypergradient()]


def test_original_names_agree_with_the_reference(hidden_reference):
    """The correct one, written the original's way (tuples, ``-train_loss`` and ``d + i``),
    gives the reference's products, Neumann series and hypergradient on the exact problem, with
    and without a direct term."""
    for direct in (0.0, 0.5):
        problem = hidden_reference.digits_problem(seed=0, direct=direct)
        problem.X, problem.y, problem.lam = problem.X[:120], problem.y[:120], problem.lam[:120]
        theta = torch.tensor(problem.solve())
        theirs = _answers(_module("original_names"), problem, theta, direct)
        ours = _answers(None, problem, theta, direct)
        for got, expected in zip(theirs, ours, strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-14)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_graded_with_the_points_its_code_deserves(name, tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "submission.py").write_text(source(name))
    results, feedback = grade_one(LAB_DIR, tmp_path / "submission", tmp_path / "out",
                                  env={"LAB_DATA_SELECTION_GRADER_SEED": "0"})
    check_pinned(name, results, feedback, EXPECTED[name], full=83.0)
