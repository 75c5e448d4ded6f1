"""Grading lab_gmm end to end, the way a TA grades a class: every example submission of
``examples/lab_gmm`` (the reference with its saved run and answers.json, the blank stub, the
known-wrong ones, a submission in the original lab's layout) in one ``grading`` batch with two
workers, each then checked against its pinned score and reason."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from grading.examples import lab_examples

from ..example_grading import example_grading_tests
from .conftest import LAB_DIR

EXAMPLES = lab_examples(LAB_DIR)

graded, test_reference_gets_every_autograded_point, test_example_scores_as_pinned = \
    example_grading_tests(LAB_DIR, auto_points=70.0, env={"LAB_GMM_GRADER_SEED": "0"})


@pytest.fixture(scope="module")
def hidden_helpers():
    sys.path.insert(0, str(LAB_DIR / "instructor" / "hidden_tests"))
    try:
        import gmm_reference
    finally:
        sys.path.remove(str(LAB_DIR / "instructor" / "hidden_tests"))
    return gmm_reference


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.files], ids=lambda e: e.name)
def test_example_runs_name_the_six_cluster(example, hidden_helpers):
    """The saved runs shipped with examples are what the hidden test reads, and their
    sample_index is the cluster of the 6s (computed here as the hidden test computes it)."""
    run = hidden_helpers.read_student_run(dict(example.files))
    assert run.note == "", run.note
    X, y = (np.concatenate(parts) for parts in zip(hidden_helpers.flat_images("train"),
                                                   hidden_helpers.flat_images("test"),
                                                   strict=True))
    clusters = hidden_helpers.predict((X - run.mean) @ run.components.T, run.means, run.covs,
                                      run.pi)
    assert run.sample_index == np.bincount(clusters[y == 6]).argmax()
