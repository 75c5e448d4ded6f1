"""The labs' end-to-end grading tests, shared: every example submission of a lab (the reference,
the blank stub, the known-wrong ones) graded in one batch with two workers, as a TA grades a
class, then each checked against its pinned score and reason.

In a lab's ``test_grading.py``::

    graded, test_reference_gets_every_autograded_point, test_example_scores_as_pinned = \\
        example_grading_tests(LAB_DIR, auto_points=100.0, env={"LAB_SAE_GRADER_SEED": "0"})
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grading.demo import GradedExample, grade_examples
from grading.examples import lab_examples


def example_grading_tests(lab_dir: Path, auto_points: float, env: dict[str, str] | None = None):
    """(the module-scoped fixture ``graded``: name -> GradedExample, graded with ``env`` set;
    a test that the reference gets ``auto_points``, all the hidden tests' points; a test per
    example that it scores as pinned, with its pinned reason)."""
    examples = lab_examples(lab_dir)

    @pytest.fixture(scope="module")
    def graded(tmp_path_factory) -> dict[str, GradedExample]:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            return grade_examples(lab_dir, tmp_path_factory.mktemp("batch"), workers=2,
                                  show_progress=False)[1]

    @pytest.mark.slow
    def test_reference_gets_every_autograded_point(graded):
        assert graded["reference"].result.score == auto_points, graded["reference"].feedback

    @pytest.mark.slow
    @pytest.mark.parametrize("example", examples, ids=lambda e: e.name)
    def test_example_scores_as_pinned(graded, example):
        problem = graded[example.name].problem()
        assert problem is None, problem
        assert example.score is not None, f"pin a score for {example.name} in expected.json"

    return graded, test_reference_gets_every_autograded_point, test_example_scores_as_pinned
