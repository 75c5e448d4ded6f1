"""Grading lab_data_selection end to end, as a TA grades a class (see tests/example_grading.py):
the reference gets all 83 points, the blank stub 0, every known-wrong example its pinned score
and reason."""

from __future__ import annotations

from ..example_grading import example_grading_tests
from .conftest import LAB_DIR

graded, test_reference_gets_every_autograded_point, test_example_scores_as_pinned = \
    example_grading_tests(LAB_DIR, auto_points=83.0,
                          env={"LAB_DATA_SELECTION_GRADER_SEED": "0"})
