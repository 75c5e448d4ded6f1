"""Grading lab_sae end to end through ``grading grade-one``: the reference (grader seed 0 in CI;
LAB_SAE_ALL_SEEDS=1 adds seeds 1..4), the blank stub, and every known-wrong example."""

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
AUTO_POINTS = 100.0
SEEDS = range(5) if os.environ.get("LAB_SAE_ALL_SEEDS") == "1" else range(1)
EXAMPLES = lab_examples(LAB_DIR)


def _grade(folder: Path, out: Path, seed: int = 0) -> tuple[float, str]:
    env = {**os.environ, "LAB_SAE_GRADER_SEED": str(seed)}
    proc = subprocess.run([sys.executable, "-m", "grading", "grade-one", "--lab", "lab_sae",
                           "--submission", str(folder), "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / "results.json").read_text())
    return float(result["score"]), (out / "feedback.md").read_text()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every submission graded once (two at a time): name -> (score, feedback.md)."""
    root = tmp_path_factory.mktemp("graded")
    jobs = {}
    for example in EXAMPLES:
        if example.name == "reference":
            for seed in SEEDS:
                folder = write_submission(example.source, root / f"reference_seed{seed}")
                jobs[f"reference_seed{seed}"] = (folder, seed)
        else:
            jobs[example.name] = (write_submission(example.source, root / example.name), 0)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_grade, folder, root / f"out_{name}", seed)
                   for name, (folder, seed) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_reference_gets_full_points(graded, seed):
    score, feedback = graded[f"reference_seed{seed}"]
    assert score == AUTO_POINTS, feedback


@pytest.mark.slow
def test_blank_stub_scores_zero_without_crashing(graded):
    score, feedback = graded["blank"]
    assert score == 0.0
    assert "not implemented yet" in feedback


@pytest.mark.slow
@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.name not in ("reference", "blank")],
                         ids=lambda e: e.name)
def test_known_wrong_examples_score_as_pinned(graded, example):
    score, feedback = graded[example.name]
    assert example.score is not None and example.score != FULL, f"pin {example.name}"
    assert score == pytest.approx(float(example.score)), feedback
    assert re.search(example.reason, feedback), feedback
