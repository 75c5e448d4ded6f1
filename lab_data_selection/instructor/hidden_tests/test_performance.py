"""Hidden tests of performance on MNIST (partial credit).

The lab's fixed pipeline (``train.graded_run``: learned weights with the student's functions,
default settings) runs in the worker on a reduced problem: 100 pool images per digit of the
embedded MNIST sample (1,000 images, 20% target digits 6 and 7), the 200 validation 6s and 7s,
10 epochs. It returns the trained network's parameters and the learned weights; the worker never
sees the 200 held-out test 6s and 7s. Here the grader computes their logits with its own copy of
the network code, trains the uniform-weights baseline with the same budget (trusted code) and
scores

* the held-out loss ratio: CE of the learned run / CE of the uniform run on the test 6s and 7s
  (full credit at <= 0.9, that is at least 10% lower; none at 1.0);
* the enrichment of the top-100 weights: share of 6s and 7s among them / their share of the
  pool (full credit at >= 3, none at 1.5).
"""

import os

import numpy as np
import pytest
import torch
from reference import BASELINE, uniform_baseline

SEED = int(os.environ.get("LAB_DATA_SELECTION_GRADER_SEED", "0"))
TARGETS = (6, 7)
PER_DIGIT, EPOCHS, TOP_K = 100, 10, 100
_RUNS: dict = {}


def _data(lab_fixed):
    return lab_fixed("data").selection_data(TARGETS).subset(PER_DIGIT)


def _graded(submission, fixed, lab_fixed) -> dict:
    """The worker's run (once per submission; a failure is remembered and raised again)."""
    key = id(submission)
    if key not in _RUNS:
        d = _data(lab_fixed)
        try:
            out = fixed("train").graded_run(d.train_images, d.train_labels, d.val_images,
                                            d.val_labels, list(TARGETS), EPOCHS, SEED)
            _RUNS[key] = ("ok", out)
        except Exception as exc:  # noqa: BLE001 - replayed to the second test
            _RUNS[key] = ("error", exc)
    status, value = _RUNS[key]
    if status == "error":
        raise value
    return value


def _array(out, name, shape) -> np.ndarray:
    value = out.get(name) if isinstance(out, dict) else None
    if isinstance(value, torch.Tensor):
        value = value.numpy()
    if not isinstance(value, np.ndarray) or value.shape != shape:
        raise AssertionError(f"the graded run must give back {name} of shape {shape}; got "
                             f"{type(value).__name__}")
    if not np.isfinite(value).all():
        raise AssertionError(f"the graded run gave back NaN or infinite {name}: your "
                             "hypergradients probably blew the weights or the network up")
    return value.astype(np.float64)


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


@pytest.mark.points(15)
@pytest.mark.time_limit(240)
@pytest.mark.hint("A correct hypergradient raises the weights of the 6s and 7s and lowers their "
                  "held-out loss by about 40% against uniform weights. Check the sign of your "
                  "hypergradient and the alpha scaling of your Neumann series first.")
def test_learned_weights_lower_the_held_out_loss(submission, fixed, lab_fixed, rubric, credit):
    """Held-out loss on the 6s and 7s with learned weights vs uniform weights (partial credit)"""
    out = _graded(submission, fixed, lab_fixed)
    d = _data(lab_fixed)
    try:
        logits = lab_fixed("network").network_logits(
            BASELINE["network"], out.get("network") if isinstance(out, dict) else None,
            lab_fixed("data").normalise(d.test_images))
    except ValueError as exc:
        raise AssertionError(f"the graded run gave back an unusable network: {exc}") from None
    learned = _cross_entropy(logits, d.test_labels)
    baseline = uniform_baseline(lab_fixed("network"), lab_fixed("data").normalise, d, EPOCHS,
                                SEED)
    uniform = _cross_entropy(baseline, d.test_labels)
    credit.partial("test_loss_ratio", learned / uniform, rubric)
    credit.explain(received=f"held-out loss {learned:.4f} with your learned weights, "
                            f"{uniform:.4f} with uniform weights (ratio {learned / uniform:.3f})")


@pytest.mark.points(10)
@pytest.mark.time_limit(240)
@pytest.mark.hint("The highest weights should go to the target digits (and their look-alikes). "
                  "If they go elsewhere, your hypergradient points the wrong way.")
def test_top_weights_hold_the_target_digits(submission, fixed, lab_fixed, rubric, credit):
    """Share of 6s and 7s among the top-100 weights over their base rate (partial credit)"""
    out = _graded(submission, fixed, lab_fixed)
    d = _data(lab_fixed)
    weights = _array(out, "weights", (len(d.train_labels),))
    top = np.argsort(-weights, kind="stable")[:TOP_K]
    is_target = np.isin(d.train_labels, TARGETS)
    enrichment = float(is_target[top].mean() / is_target.mean())
    credit.partial("top100_enrichment", enrichment, rubric)
    digits = np.bincount(d.train_labels[top], minlength=10)
    credit.explain(received=f"top-100 share of 6s and 7s {is_target[top].mean():.0%} (base rate "
                            f"{is_target.mean():.0%}, x{enrichment:.2f}); digits of the top 100: "
                            + ", ".join(f"{k}: {c}" for k, c in enumerate(digits) if c))
