"""Shared fixtures of the hidden tests (grader side: trusted code only).

* ``exact``: the exact problem (weighted softmax regression on sklearn's digits, float64) with
  w*(lambda) solved by Newton's method here, its dense Hessian, lambda_max and the exact
  hypergradient. Computed once per session.
* ``lab_fixed``: the lab's own fixed modules (``network.py``, ``data.py``) loaded in the
  grader from the repository, to rebuild networks and data with trusted code.
* ``toy``: ``fixed("toy_problem")``, the lab's problem wrappers built in the worker.

The trusted helper modules beside this file are importable: ``reference`` (exact answers),
``selection_checks`` (lab vectors from the sandbox, on top of ``grading.received``) and
``selection_run`` (the graded run, driven from here). The grader's own torch work runs on one
thread.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference  # noqa: E402


@dataclass
class Exact:
    problem: reference.ExactProblem
    theta: np.ndarray
    hessian: np.ndarray
    lambda_max: float
    hypergradient: np.ndarray


@pytest.fixture(scope="session")
def exact() -> Exact:
    problem = reference.digits_problem(seed=0)
    theta = problem.solve()
    _, H = problem.train_grad_hess(theta)
    return Exact(problem, theta, H, float(np.linalg.eigvalsh(H)[-1]),
                 problem.hypergradient(theta))


@pytest.fixture(scope="module")
def lab_fixed(lab_dir: Path):
    """``lab_fixed("network")``: a fixed module of the lab, imported in the grader."""
    cache = {}

    def load(name: str):
        if name not in cache:
            spec = importlib.util.spec_from_file_location(f"lab_data_selection_{name}_grader",
                                                          lab_dir / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up there
            spec.loader.exec_module(module)
            cache[name] = module
        return cache[name]

    return load


@pytest.fixture
def toy(fixed):
    return fixed("toy_problem")
