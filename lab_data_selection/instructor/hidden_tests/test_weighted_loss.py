"""Hidden tests of weighted_train_loss: values, invariance, stability, gradients."""

import numpy as np
import pytest
import torch
from reference import weighted_loss_reference

from grading.received import describe, returned


def _batch(seed: int, size: int = 16):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 3.0, size), rng.normal(0.0, 1.5, size)


def _value(submission, losses, log_weights) -> float:
    """The student's weighted loss of float64 (B,) losses and log-weights, as a float."""
    out = returned(submission.weighted_train_loss(torch.tensor(losses), torch.tensor(log_weights)),
                   "weighted_train_loss", max_size=1, finite=False,
                   hint="Return a scalar tensor (the weighted sum), computed with torch.")
    if out.numel() != 1:
        raise AssertionError(f"weighted_train_loss must return a scalar tensor; received "
                             f"{describe(out)}.")
    return float(out.reshape(-1)[0])


@pytest.mark.points(3)
@pytest.mark.time_limit(20)
@pytest.mark.hint("w_i = exp(lambda_i) / sum_j exp(lambda_j) over the batch (torch.softmax), "
                  "then sum_i w_i l_i.")
def test_weighted_loss_values(submission):
    """weighted_train_loss: the softmax-weighted sum of the losses (equal weights: the mean)"""
    for seed in range(3):
        losses, log_weights = _batch(seed)
        expected, _, _ = weighted_loss_reference(losses, log_weights)
        got = _value(submission, losses, log_weights)
        assert got == pytest.approx(expected, rel=1e-9), (
            f"batch {seed} of 16 losses: your weighted loss {got:.6f} is not the "
            f"softmax(log_weights)-weighted sum of the losses (relative tolerance 1e-9)")
    losses, _ = _batch(7)
    got = _value(submission, losses, np.full(len(losses), 0.3))
    assert got == pytest.approx(losses.mean(), rel=1e-9), (
        f"equal log-weights must give the plain mean of the losses; got {got:.6f}")


@pytest.mark.points(2)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Normalise over the batch, and compute it stably: torch.softmax subtracts "
                  "the maximum for you.")
def test_weighted_loss_shift_invariant_and_stable(submission):
    """weighted_train_loss: adding a constant to every log-weight changes nothing; 1000 is fine"""
    losses, log_weights = _batch(3)
    base = _value(submission, losses, log_weights)
    shifted = _value(submission, losses, log_weights + 5.0)
    assert shifted == pytest.approx(base, rel=1e-9), (
        f"log-weights + 5 gave {shifted:.6f} instead of {base:.6f}: the weights must be "
        "normalised over the batch")
    big = log_weights.copy()
    big[2] = 1000.0
    got = _value(submission, losses, big)
    assert np.isfinite(got) and got == pytest.approx(losses[2], rel=1e-9), (
        f"with one log-weight of 1000 (the others near 0) all the weight goes to that sample, "
        f"so the loss is that sample's own loss; got {got}. Subtract the maximum log-weight "
        f"before exp (torch.softmax does it).")


@pytest.mark.points(3)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Keep everything in torch operations (no .item(), .detach() or numpy) so "
                  "that gradients reach both the losses and the log-weights.")
def test_weighted_loss_gradients(submission, toy):
    """weighted_train_loss: gradients with respect to the losses and to the log-weights"""
    losses, log_weights = _batch(5)
    out = toy.weighted_loss_gradients(torch.tensor(losses), torch.tensor(log_weights))
    if type(out) is not tuple or len(out) != 3:
        raise AssertionError(f"the gradients of weighted_train_loss could not be read: "
                             f"received {describe(out)}")
    hint = "Keep everything in torch operations so that autograd reaches both arguments."
    d_losses, d_logw = (returned(g, f"d loss / d {what}", shape=(len(losses),), hint=hint)
                        for g, what in zip(out[1:], ("losses", "log_weights"), strict=True))
    _, w, expected_logw = weighted_loss_reference(losses, log_weights)
    for got, expected, what in ((d_losses, w, "d loss / d l_i must be the weight w_i"),
                                (d_logw, expected_logw,
                                 "d loss / d lambda_i must be w_i (l_i - loss)")):
        got = got.numpy().astype(np.float64)
        wrong = int((np.abs(got - expected) > 1e-12 + 1e-8 * np.abs(expected)).sum())
        assert wrong == 0, f"{what}: {wrong} of {len(losses)} entries differ"
