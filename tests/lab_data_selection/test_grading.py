"""Grading lab_data_selection end to end, as a TA grades a class: every example submission (the
reference, the blank stub, the known-wrong ones) in one ``grading`` batch with two workers, each
then checked against its pinned score and reason."""

from __future__ import annotations

import pytest

from grading.demo import grade_examples
from grading.examples import lab_examples

from .conftest import LAB_DIR

EXAMPLES = lab_examples(LAB_DIR)
AUTO_POINTS = 83.0  # the hidden tests' points, all of which the reference gets


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """name -> GradedExample, at grader seed 0."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAB_DATA_SELECTION_GRADER_SEED", "0")
        return grade_examples(LAB_DIR, tmp_path_factory.mktemp("batch"), workers=2,
                              show_progress=False)[1]


@pytest.mark.slow
def test_reference_gets_every_autograded_point(graded):
    assert graded["reference"].result.score == AUTO_POINTS, graded["reference"].feedback


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_example_scores_as_pinned(graded, example):
    problem = graded[example.name].problem()
    assert problem is None, problem
    assert example.score is not None, f"pin a score for {example.name} in expected.json"
