"""Grading lab_gmm end to end, the way a TA grades a class: every example submission of
``examples/lab_gmm`` (the reference with its saved run and answers.json, the blank stub, the
known-wrong ones, a submission in the original lab's layout) in ONE ``python -m grading grade``
batch with two workers, each then checked against its pinned score and feedback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from grading.examples import FULL, lab_examples, write_submission

from .conftest import LAB_DIR

REPO = LAB_DIR.parent
EXAMPLES = lab_examples(LAB_DIR)
BATCH_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def hidden_helpers():
    sys.path.insert(0, str(LAB_DIR / "instructor" / "hidden_tests"))
    try:
        import gmm_reference
    finally:
        sys.path.remove(str(LAB_DIR / "instructor" / "hidden_tests"))
    return gmm_reference


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, tuple[dict, str]]:
    """Every example graded in one batch: name -> (result.json, feedback.md)."""
    root = tmp_path_factory.mktemp("batch")
    for example in EXAMPLES:
        write_submission(example.source, root / "submissions" / example.name, example.files)
    env = {**os.environ, "LAB_GMM_GRADER_SEED": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "grading", "grade", "--lab", "lab_gmm", "--submissions",
         str(root / "submissions"), "--out", str(root / "out"), "--workers", "2",
         "--no_progress"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=BATCH_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outcomes = {}
    for example in EXAMPLES:
        folder = root / "out" / "submissions" / example.name
        assert (folder / "result.json").is_file(), f"no result for {example.name}: {proc.stdout}"
        outcomes[example.name] = (json.loads((folder / "result.json").read_text()),
                                  (folder / "feedback.md").read_text())
    return outcomes


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
def test_blank_stub_scores_zero_without_crashing(graded):
    result, feedback = graded["blank"]
    assert result["score"] == 0.0, feedback
    assert "not implemented yet" in feedback


@pytest.mark.slow
@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.name != "blank"],
                         ids=lambda e: e.name)
def test_examples_score_as_pinned(graded, example):
    result, feedback = graded[example.name]
    assert example.score is not None, f"pin a score for {example.name} in expected.json"
    expected = result["max_score"] if example.score == FULL else float(example.score)
    assert result["score"] == pytest.approx(expected), feedback
    if example.reason:
        assert re.search(example.reason, feedback), feedback
