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

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grading.examples import apply_patch, reference_submission
from tests.original_api import check_pinned, grade_one, load_pins

from .conftest import LAB

ORIGINAL = Path(__file__).resolve().parent / "original_api"
EXPECTED = load_pins(ORIGINAL)
NAMES = sorted(path.stem for path in ORIGINAL.glob("*.py"))
ON_THE_NOTEBOOK = {"evaluate_in_training_mode": ("original_notebook",)}  # one mistake in it


def test_every_original_api_submission_is_pinned():
    assert NAMES and set(NAMES) == set(EXPECTED)


def grade(name: str, root: Path) -> tuple[dict, str]:
    """(results.json, feedback.md) of the submission ``name`` (patched onto the reference, or
    onto the original notebook's code for the mistakes of :data:`ON_THE_NOTEBOOK`)."""
    folder = root / name
    folder.mkdir()
    source = reference_submission(LAB)
    for part in (*ON_THE_NOTEBOOK.get(name, ()), name):
        source = apply_patch(source, (ORIGINAL / f"{part}.py").read_text())
    (folder / "submission.py").write_text(source)
    (folder / "submission.py").chmod(0o644)
    return grade_one(LAB, folder, root / f"{name}-out", env=None)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, tuple[dict, str]]:
    root = tmp_path_factory.mktemp("original_api")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda name: grade(name, root), NAMES)
        return dict(zip(NAMES, results, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_original_api_submission_scores_as_pinned(graded, name):
    results, feedback = graded[name]
    check_pinned(name, results, feedback, EXPECTED[name], full=100.0)
