"""Fixtures of the lab_data_selection tests: the reference solution as the ``submission``
module, the lab's fixed modules imported against it, and the hidden tests' trusted helpers."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import pytest

from grading.examples import reference_submission

LAB_DIR = Path(__file__).resolve().parents[2] / "lab_data_selection"
HIDDEN_DIR = LAB_DIR / "instructor" / "hidden_tests"
FIXED_MODULES = ("submission", "network", "model", "hyper_opt", "data", "toy_problem",
                 "mnist_data_selection", "train", "visualization", "grade", "load_resources",
                 "check_gradients")


def load_reference() -> types.ModuleType:
    """The instructor solution (markers removed) as a fresh module named ``submission``."""
    module = types.ModuleType("submission")
    module.__file__ = str(LAB_DIR / "submission.py")
    exec(compile(reference_submission(LAB_DIR), "solution.py", "exec"), module.__dict__)
    return module


@contextmanager
def reference_lab(submission: types.ModuleType | None = None):
    """Yields ``import_module``: ``import_module("train")`` imports a fixed module of the lab
    whose ``import submission`` gets ``submission`` (default: the reference); sys.modules and
    sys.path are restored afterwards."""
    saved = {name: sys.modules.pop(name) for name in FIXED_MODULES if name in sys.modules}
    sys.path.insert(0, str(LAB_DIR))
    sys.modules["submission"] = submission or load_reference()
    try:
        yield importlib.import_module
    finally:
        for name in FIXED_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
        sys.path.remove(str(LAB_DIR))


@pytest.fixture
def ref() -> types.ModuleType:
    return load_reference()


@pytest.fixture
def lab_module():
    """``lab_module("train")``: see :func:`reference_lab`."""
    with reference_lab() as import_module:
        yield import_module


@pytest.fixture(scope="session")
def hidden_reference():
    """``instructor/hidden_tests/reference.py``: the grader's trusted helpers."""
    spec = importlib.util.spec_from_file_location("lab_data_selection_hidden_reference",
                                                  HIDDEN_DIR / "reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread: these small problems run fastest that way on a shared machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
