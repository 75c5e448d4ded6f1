"""Submissions written against the original notebook's API, graded as a TA grades one student
(``python -m grading grade-one``), each with the score its code deserves (pinned in
``original_api/expected.json``, with a regex its feedback must contain).

The original API: ``fit_model`` returning ``train_losses``, ``train_accuracies``,
``val_losses``, ``val_accuracies``; ``evaluate_model(model, test_loader)`` on a DataLoader
(batch 32); ``evaluate_model_with_confusion_matrix``, ``evaluate_with_errors`` and
``plot_error_samples``. Each file of ``original_api/`` is appended to the reference solution
(its definitions replace the reference's), as the examples of ``examples/`` are.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from common.threads import thread_env
from grading.examples import apply_patch, reference_submission

from .conftest import LAB

ORIGINAL = Path(__file__).resolve().parent / "original_api"
EXPECTED = json.loads((ORIGINAL / "expected.json").read_text())
NAMES = sorted(path.stem for path in ORIGINAL.glob("*.py"))


def test_every_original_api_submission_is_pinned():
    assert NAMES and set(NAMES) == set(EXPECTED)
    for name, pin in EXPECTED.items():
        assert isinstance(pin["score"], int | float) and pin["reason"] and pin["why"], name


def grade_one(name: str, root: Path) -> tuple[dict, str]:
    """(results.json, feedback.md) of the submission ``name`` graded by ``grade-one``."""
    folder, out = root / name, root / f"{name}-out"
    folder.mkdir()
    source = apply_patch(reference_submission(LAB), (ORIGINAL / f"{name}.py").read_text())
    (folder / "submission.py").write_text(source)
    for path in (root, folder, folder / "submission.py"):  # the sandbox's uid reads it
        path.chmod(0o755 if path.is_dir() else 0o644)
    env = {**os.environ, **thread_env(1), "LABS_NO_PROGRESS": "1"}
    done = subprocess.run([sys.executable, "-m", "grading", "grade-one", "--lab", LAB.name,
                           "--submission", str(folder), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return (json.loads((out / "results.json").read_text()),
            (out / "feedback.md").read_text())


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, tuple[dict, str]]:
    root = tmp_path_factory.mktemp("original_api")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda name: grade_one(name, root), NAMES)
        return dict(zip(NAMES, results, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_original_api_submission_scores_as_pinned(graded, name):
    results, feedback = graded[name]
    pin = EXPECTED[name]
    expected = 100.0 if pin["score"] == "full" else float(pin["score"])
    assert results["score"] == expected, (f"{name}: {results['score']} instead of "
                                          f"{expected}\n{feedback}")
    assert re.search(pin["reason"], feedback), f"{name}: no {pin['reason']!r} in\n{feedback}"
