"""Fixtures of the lab_sae tests: the reference solution as the ``submission`` module, the lab's
fixed modules imported against it, and the trusted helpers of the hidden tests."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from grading.examples import reference_lab as lab_with
from grading.examples import reference_module
from tests.hidden_modules import hidden_module

LAB_DIR = Path(__file__).resolve().parents[2] / "lab_sae"


def load_reference() -> types.ModuleType:
    """The instructor solution (markers removed) as a fresh module named ``submission``."""
    return reference_module(LAB_DIR)


@pytest.fixture
def ref() -> types.ModuleType:
    return load_reference()


def reference_lab(submission: types.ModuleType | None = None):
    """See :func:`grading.examples.reference_lab` (this lab, default: the reference)."""
    return lab_with(LAB_DIR, submission)


@pytest.fixture
def lab_module():
    """``lab_module("trainer")``: see :func:`reference_lab`."""
    with reference_lab() as import_module:
        yield import_module


@pytest.fixture(scope="session")
def hidden():
    """The hidden tests' trusted helper module ``sae_reference``."""
    return hidden_module(LAB_DIR, "sae_reference")


@pytest.fixture(scope="session")
def hidden_run(hidden):
    """The hidden tests' grader-driven training run ``sae_run``."""
    return hidden_module(LAB_DIR, "sae_run")
