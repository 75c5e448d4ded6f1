"""Fixtures of the lab_data_selection tests: the reference solution as the ``submission``
module, the lab's fixed modules imported against it, and the hidden tests' trusted helpers."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import pytest

from grading.examples import reference_lab as lab_with
from grading.examples import reference_module

LAB_DIR = Path(__file__).resolve().parents[2] / "lab_data_selection"
HIDDEN_DIR = LAB_DIR / "instructor" / "hidden_tests"


def load_reference() -> types.ModuleType:
    """The instructor solution (markers removed) as a fresh module named ``submission``."""
    return reference_module(LAB_DIR)


def reference_lab(submission: types.ModuleType | None = None):
    """See :func:`grading.examples.reference_lab` (this lab, default: the reference)."""
    return lab_with(LAB_DIR, submission)


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
