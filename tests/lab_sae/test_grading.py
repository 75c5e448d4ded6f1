"""Grading lab_sae end to end, as a TA grades a class (see tests/example_grading.py): the
reference gets all 100 points, the blank stub 0, every known-wrong example its pinned score and
reason. Grader seed 0 in CI; LAB_SAE_ALL_SEEDS=1 also grades the reference at seeds 1..4."""

from __future__ import annotations

import os

import pytest

from grading.demo import grade_examples

from ..example_grading import example_grading_tests
from .conftest import LAB_DIR

SEED_VARIABLE = "LAB_SAE_GRADER_SEED"
AUTO_POINTS = 100.0

graded, test_reference_gets_every_autograded_point, test_example_scores_as_pinned = \
    example_grading_tests(LAB_DIR, AUTO_POINTS, env={SEED_VARIABLE: "0"})


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("LAB_SAE_ALL_SEEDS") != "1",
                    reason="grader seeds 1..4 take several minutes; set LAB_SAE_ALL_SEEDS=1")
def test_reference_gets_full_points_at_grader_seeds_1_to_4(tmp_path, monkeypatch):
    for seed in range(1, 5):
        monkeypatch.setenv(SEED_VARIABLE, str(seed))
        reference = grade_examples(LAB_DIR, tmp_path / f"seed{seed}", names=["reference"],
                                   show_progress=False)[1]["reference"]
        assert reference.result.score == AUTO_POINTS, f"seed {seed}: {reference.feedback}"
