"""Fixtures of the lab_gmm tests: the reference solution as the ``submission`` module, and the
lab's fixed modules imported against it."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from grading.examples import reference_lab as lab_with
from grading.examples import reference_module
from tests.hidden_modules import hidden_module as import_hidden

LAB_DIR = Path(__file__).resolve().parents[2] / "lab_gmm"


def load_reference() -> types.ModuleType:
    """The instructor solution (markers removed) as a fresh module named ``submission``."""
    return reference_module(LAB_DIR)


@pytest.fixture(autouse=True, scope="module")
def _one_compute_thread():
    """BLAS and OpenMP capped at one thread: on a loaded 2-core machine their default pools
    make these tests several times slower."""
    torch = sys.modules.get("torch")  # only where a test module imported it
    threads = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    if torch:
        torch.set_num_threads(threads)


@pytest.fixture
def ref() -> types.ModuleType:
    return load_reference()


def reference_lab(submission: types.ModuleType | None = None):
    """See :func:`grading.examples.reference_lab` (this lab, default: the reference)."""
    return lab_with(LAB_DIR, submission)


@pytest.fixture
def lab_module():
    """``lab_module("train")``: see :func:`reference_lab`."""
    with reference_lab() as import_module:
        yield import_module


def hidden_module(name: str) -> types.ModuleType:
    """One of the hidden tests' trusted helper modules (``gmm_reference``, ``student_run``,
    ``received``, ``em_pipeline``), imported as the hidden tests import them."""
    return import_hidden(LAB_DIR, name)
