"""Grading the lab's example submissions like a TA grades a class: all of them in one
``grading`` batch with two workers (the machine has 2 cores). The reference gets full points,
the blank stub 0, every known-wrong example its pinned score with a reason a student can act on.
"""

from __future__ import annotations

import json

import pytest

from grading.demo import grade_examples
from grading.examples import lab_examples

from .conftest import LAB

EXAMPLES = lab_examples(LAB)
AUTO_POINTS = 100.0  # the hidden tests' points, all of which the reference gets


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """name -> GradedExample."""
    return grade_examples(LAB, tmp_path_factory.mktemp("batch"), workers=2,
                          show_progress=False)[1]


def test_every_example_is_pinned():
    pinned = json.loads((LAB.parent / "examples" / LAB.name / "expected.json").read_text())
    names = {e.name for e in EXAMPLES} - {"reference", "blank"}
    assert names == set(pinned) and len(names) >= 5


@pytest.mark.slow
def test_reference_gets_every_autograded_point(graded):
    assert graded["reference"].result.score == AUTO_POINTS, graded["reference"].feedback


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_example_scores_as_pinned(graded, example):
    problem = graded[example.name].problem()
    assert problem is None, problem


@pytest.mark.slow
def test_every_failed_test_of_the_blank_stub_says_it_is_not_implemented(graded):
    failed = [t for t in graded["blank"].result.tests if t.status == "failed"]
    assert failed and all("not implemented yet" in t.output or "NotImplementedError" in t.output
                          for t in failed)
