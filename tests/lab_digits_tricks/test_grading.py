"""Grading lab_digits_tricks end to end, as a TA grades a class (see tests/example_grading.py):
the reference gets all 100 points, the blank stub 0, every known-wrong example its pinned score
with a reason a student can act on."""

from __future__ import annotations

import json

import pytest

from grading.examples import lab_examples

from ..example_grading import example_grading_tests
from .conftest import LAB

graded, test_reference_gets_every_autograded_point, test_example_scores_as_pinned = \
    example_grading_tests(LAB, auto_points=100.0)


def test_every_example_is_pinned():
    pinned = json.loads((LAB.parent / "examples" / LAB.name / "expected.json").read_text())
    names = {e.name for e in lab_examples(LAB)} - {"reference", "blank"}
    assert names == set(pinned) and len(names) >= 5


@pytest.mark.slow
def test_every_failed_test_of_the_blank_stub_says_it_is_not_implemented(graded):
    failed = [t for t in graded["blank"].result.tests if t.status == "failed"]
    assert failed and all("not implemented yet" in t.output or "NotImplementedError" in t.output
                          for t in failed)
