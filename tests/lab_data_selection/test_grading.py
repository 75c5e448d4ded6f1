"""Grading lab_data_selection end to end through ``grading grade-one``: the reference (full
points), the blank stub (0, no crash) and every known-wrong example (pinned score and reason)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grading.examples import FULL, lab_examples, write_submission

from .conftest import LAB_DIR

REPO = LAB_DIR.parent
AUTO_POINTS = 83.0


def _grade(folder: Path, out: Path) -> tuple[float, str]:
    env = {**os.environ, "LAB_DATA_SELECTION_GRADER_SEED": "0"}
    proc = subprocess.run([sys.executable, "-m", "grading", "grade-one", "--lab",
                           "lab_data_selection", "--submission", str(folder), "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / "results.json").read_text())
    return float(result["score"]), (out / "feedback.md").read_text()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every example graded once (two at a time): name -> (score, feedback.md)."""
    root = tmp_path_factory.mktemp("graded")
    folders = {e.name: write_submission(e.source, root / e.name) for e in lab_examples(LAB_DIR)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_grade, folder, root / f"out_{name}")
                   for name, folder in folders.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.slow
def test_reference_gets_full_points(graded):
    score, feedback = graded["reference"]
    assert score == AUTO_POINTS, feedback


@pytest.mark.slow
def test_blank_stub_scores_zero_without_crashing(graded):
    score, feedback = graded["blank"]
    assert score == 0.0
    assert "not implemented yet" in feedback


@pytest.mark.slow
@pytest.mark.parametrize("example", [e for e in lab_examples(LAB_DIR)
                                     if e.name not in ("reference", "blank")],
                         ids=lambda e: e.name)
def test_known_wrong_examples_score_as_pinned(graded, example):
    score, feedback = graded[example.name]
    assert example.score is not None and example.score != FULL, f"pin {example.name}"
    assert score == pytest.approx(float(example.score)), feedback
    assert re.search(example.reason, feedback), feedback
