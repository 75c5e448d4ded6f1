"""Grading the lab's example submissions like a TA: the reference gets full points, the blank
stub 0, every known-wrong example its pinned score with a reason a student can act on.

Each submission goes through ``python -m grading grade-one`` in a subprocess; two run at a
time (the machine has 2 cores).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grading.examples import FULL, lab_examples, write_submission

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab_digits_tricks"
EXAMPLES = lab_examples(LAB)
FULL_POINTS = 100.0


def grade(example, root: Path) -> dict:
    submission = write_submission(example.source, root / example.name / "submission")
    out = root / example.name / "out"
    done = subprocess.run([sys.executable, "-m", "grading", "grade-one", "--lab", str(LAB),
                           "--submission", str(submission), "--out", str(out),
                           "--submission_id", example.name],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    results = out / "results.json"
    if not results.is_file():
        return {"error": f"grade-one wrote nothing ({done.returncode}):\n{done.stderr[-3000:]}"}
    return {"results": json.loads(results.read_text()),
            "feedback": (out / "feedback.md").read_text(), "stdout": done.stdout}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("graded")
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = pool.map(lambda e: grade(e, root), EXAMPLES)
        return {e.name: outcome for e, outcome in zip(EXAMPLES, outcomes, strict=True)}


def test_every_example_is_pinned():
    pinned = json.loads((REPO / "examples" / "lab_digits_tricks" / "expected.json").read_text())
    names = {e.name for e in EXAMPLES} - {"reference", "blank"}
    assert names == set(pinned) and len(names) >= 5


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_gets_its_score(graded, example):
    outcome = graded[example.name]
    assert "error" not in outcome, outcome.get("error")
    results, feedback = outcome["results"], outcome["feedback"]
    expected = FULL_POINTS if example.score == FULL else float(example.score)
    assert results["score"] == pytest.approx(expected), (
        f"{example.name}: {results['score']} instead of {expected} ({example.why})\n{feedback}")
    assert "isolation" in outcome["stdout"]
    if example.reason:
        assert re.search(example.reason, feedback), f"{example.reason!r} not in:\n{feedback}"
    if example.name == "blank":
        failed = [t for t in results["tests"] if t["status"] == "failed"]
        assert failed and all("not implemented yet" in t["output"] or "NotImplementedError"
                              in t["output"] for t in failed)
