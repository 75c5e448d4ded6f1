"""Grading lab_gmm end to end, the way a TA grades a class: every example submission of
``examples/lab_gmm`` (the reference with its saved run and answers.json, the blank stub, the
known-wrong ones, a submission in the original lab's layout) in one ``grading`` batch with two
workers, each then checked against its pinned score and reason."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from grading.demo import grade_examples
from grading.examples import lab_examples

from .conftest import LAB_DIR

EXAMPLES = lab_examples(LAB_DIR)
AUTO_POINTS = 70.0  # the hidden tests' points, all of which the reference gets


@pytest.fixture(scope="module")
def hidden_helpers():
    sys.path.insert(0, str(LAB_DIR / "instructor" / "hidden_tests"))
    try:
        import gmm_reference
    finally:
        sys.path.remove(str(LAB_DIR / "instructor" / "hidden_tests"))
    return gmm_reference


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """name -> GradedExample, at grader seed 0."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAB_GMM_GRADER_SEED", "0")
        return grade_examples(LAB_DIR, tmp_path_factory.mktemp("batch"), workers=2,
                              show_progress=False)[1]


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


@pytest.mark.slow
def test_reference_gets_every_autograded_point(graded):
    assert graded["reference"].result.score == AUTO_POINTS, graded["reference"].feedback


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_example_scores_as_pinned(graded, example):
    problem = graded[example.name].problem()
    assert problem is None, problem
    assert example.score is not None, f"pin a score for {example.name} in expected.json"
