"""Hidden tests of performance on MNIST (partial credit).

The graded run (``train.graded_run``'s loop with the default settings: learned weights with the
student's functions) on a reduced problem: 100 pool images per digit of the embedded MNIST
sample (1,000 images, 20% target digits 6 and 7), the 200 validation 6s and 7s, 10 epochs. The
grader drives it itself (``selection_run``): its own network, batches, optimisers and schedule,
asking the worker only for the student's hypergradient and weighted-loss gradient at each step,
so that nothing the submission does to the lab's pipeline changes what is trained. The worker
never sees the 200 held-out test 6s and 7s. The grader also trains the uniform-weights baseline
with the same budget (trusted code) and scores

* the held-out loss ratio: CE of the learned run / CE of the uniform run on the test 6s and 7s
  (full credit at <= 0.9, that is at least 10% lower; none at 1.0);
* the enrichment of the top-100 weights: share of 6s and 7s among them / their share of the
  pool (full credit at >= 3, none at 1.5).
"""

import os

import numpy as np
import pytest
from reference import uniform_baseline
from selection_run import learned_run, network_logits

SEED = int(os.environ.get("LAB_DATA_SELECTION_GRADER_SEED", "0"))
TARGETS = (6, 7)
PER_DIGIT, EPOCHS, TOP_K = 100, 10, 100
_RUNS: dict = {}


def _data(lab_fixed):
    return lab_fixed("data").selection_data(TARGETS).subset(PER_DIGIT)


def _graded(submission, fixed, lab_fixed):
    """The grader-driven learned run (once per submission; a failure is remembered and raised
    again by the second test)."""
    key = id(submission)
    if key not in _RUNS:
        try:
            run = learned_run(fixed, lab_fixed("network"), lab_fixed("data").normalise,
                              _data(lab_fixed), EPOCHS, SEED)
            _RUNS[key] = ("ok", run)
        except Exception as exc:  # noqa: BLE001 - replayed to the second test
            _RUNS[key] = ("error", exc)
    status, value = _RUNS[key]
    if status == "error":
        raise value
    return value


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


@pytest.mark.points(15)
@pytest.mark.time_limit(240)
@pytest.mark.slow_hint("Each hyper-step calls your Hessian-vector product K times: a product "
                       "that builds the Hessian, recomputes the loss from scratch for each term "
                       "or loops over samples makes the 10-epoch run slow. train.py prints a "
                       "hyper-step's cost in SGD steps (about 10x at K = 5).")
@pytest.mark.hint("A correct hypergradient raises the weights of the 6s and 7s and lowers their "
                  "held-out loss by about 40% against uniform weights. Check the sign of your "
                  "hypergradient and the alpha scaling of your Neumann series first.")
def test_learned_weights_lower_the_held_out_loss(submission, fixed, lab_fixed, rubric, credit):
    """Held-out loss on the 6s and 7s with learned weights vs uniform weights (partial credit)"""
    run = _graded(submission, fixed, lab_fixed)
    d = _data(lab_fixed)
    logits = network_logits(run.network, lab_fixed("data").normalise(d.test_images))
    if not np.isfinite(logits).all():
        raise AssertionError("the network trained with your weights gives NaN or infinite "
                             "logits: your hypergradients or weighted-loss gradients blew it up")
    learned = _cross_entropy(logits, d.test_labels)
    baseline = uniform_baseline(lab_fixed("network"), lab_fixed("data").normalise, d, EPOCHS,
                                SEED)
    uniform = _cross_entropy(baseline, d.test_labels)
    credit.partial("test_loss_ratio", learned / uniform, rubric)
    credit.explain(received=f"held-out loss {learned:.4f} with your learned weights, "
                            f"{uniform:.4f} with uniform weights (ratio {learned / uniform:.3f}); "
                            f"{run.divergences} Neumann divergence(s)")


@pytest.mark.points(10)
@pytest.mark.time_limit(240)
@pytest.mark.slow_hint("Each hyper-step calls your Hessian-vector product K times: a product "
                       "that builds the Hessian, recomputes the loss from scratch for each term "
                       "or loops over samples makes the 10-epoch run slow. train.py prints a "
                       "hyper-step's cost in SGD steps (about 10x at K = 5).")
@pytest.mark.hint("The highest weights should go to the target digits (and their look-alikes). "
                  "If they go elsewhere, your hypergradient points the wrong way.")
def test_top_weights_hold_the_target_digits(submission, fixed, lab_fixed, rubric, credit):
    """Share of 6s and 7s among the top-100 weights over their base rate (partial credit)"""
    run = _graded(submission, fixed, lab_fixed)
    d = _data(lab_fixed)
    weights = run.sample_weights()
    top = np.argsort(-weights, kind="stable")[:TOP_K]
    is_target = np.isin(d.train_labels, TARGETS)
    enrichment = float(is_target[top].mean() / is_target.mean())
    credit.partial("top100_enrichment", enrichment, rubric)
    digits = np.bincount(d.train_labels[top], minlength=10)
    credit.explain(received=f"top-100 share of 6s and 7s {is_target[top].mean():.0%} (base rate "
                            f"{is_target.mean():.0%}, x{enrichment:.2f}); digits of the top 100: "
                            + ", ".join(f"{k}: {c}" for k, c in enumerate(digits) if c))
