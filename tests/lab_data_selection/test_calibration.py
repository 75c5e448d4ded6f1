"""The performance rubric of lab_data_selection, calibrated over grader seeds 0..4: the reference
pipeline gets full credit with margin, uniform weights get none; other targets work too.

The same reduced problem as the hidden test (100 pool images per digit, 10 epochs) doubles as
the acceptance check of the issue at that budget: held-out loss on the targets at least 10%
below uniform weights, and at least 3x the base rate of target digits in the top-100 weights.
The full budget (300 per digit, 30 epochs) is measured by ``python -m bench
lab_data_selection``.
"""

from __future__ import annotations

import numpy as np
import pytest

from grading.scoring import load_rubric

from .conftest import LAB_DIR

RUBRIC = load_rubric(LAB_DIR / "instructor" / "rubric.json")
PER_DIGIT, EPOCHS = 100, 10


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def _scores(lab_module, hidden_reference, targets, seed):
    data = lab_module("data").selection_data(targets).subset(PER_DIGIT)
    train = lab_module("train")
    out = train.graded_run(data.train_images, data.train_labels, data.val_images,
                           data.val_labels, list(targets), EPOCHS, seed)
    baseline = hidden_reference.uniform_baseline(lab_module("network"),
                                                 lab_module("data").normalise, data, EPOCHS,
                                                 seed)
    logits = lab_module("network").network_logits(
        hidden_reference.BASELINE["network"], out["network"],
        lab_module("data").normalise(data.test_images))
    ratio = _cross_entropy(logits, data.test_labels) / _cross_entropy(
        baseline, data.test_labels)
    top = np.argsort(-out["weights"], kind="stable")[:100]
    is_target = np.isin(data.train_labels, targets)
    return ratio, float(is_target[top].mean() / is_target.mean()), baseline, data


def test_hidden_test_uses_the_graded_run_of_the_handout(lab_module):
    assert lab_module("train").GRADED_RUN == {"per_digit": PER_DIGIT, "epochs": EPOCHS}
    source = (LAB_DIR / "instructor" / "hidden_tests" / "test_performance.py").read_text()
    assert f"PER_DIGIT, EPOCHS, TOP_K = {PER_DIGIT}, {EPOCHS}, 100" in source


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_reference_full_credit_and_uniform_none(lab_module, hidden_reference, seed):
    ratio, enrichment, baseline, data = _scores(lab_module, hidden_reference, (6, 7), seed)
    assert ratio <= 0.7, ratio  # acceptance: >= 10% lower; rubric target 0.9
    assert enrichment >= 4.0, enrichment  # acceptance: >= 3x the base rate
    assert RUBRIC["test_loss_ratio"].credit(ratio) == RUBRIC["test_loss_ratio"].points
    assert RUBRIC["top100_enrichment"].credit(enrichment) == RUBRIC["top100_enrichment"].points
    # Uniform weights (a hypergradient of zero) earn nothing: the ratio is 1 by construction,
    # and ties put the pool's first 100 images on top (enrichment 1.2).
    uniform_top = np.isin(data.train_labels[:100], (6, 7)).mean() / 0.2
    assert RUBRIC["test_loss_ratio"].credit(1.0) == 0.0
    assert RUBRIC["top100_enrichment"].credit(uniform_top) == 0.0, uniform_top
    assert np.isfinite(baseline).all()


@pytest.mark.slow
@pytest.mark.parametrize("targets", [(0, 1), (3, 8)])
def test_other_target_digits_work(lab_module, hidden_reference, targets):
    ratio, enrichment, _, _ = _scores(lab_module, hidden_reference, targets, 0)
    assert ratio <= 0.7 and enrichment >= 4.0, (ratio, enrichment)


def test_grade_py_states_the_graders_rule(lab_module):
    grade = lab_module("grade")
    assert set(grade.FULL_CREDIT) == set(grade.NO_CREDIT) == set(RUBRIC)
    for name, threshold in RUBRIC.items():
        assert grade.FULL_CREDIT[name] == threshold.target
        assert grade.NO_CREDIT[name] == threshold.floor
