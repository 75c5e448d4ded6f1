"""Hidden tests of the fixture lab (run in the grader; the submission runs in the sandbox)."""

import numpy as np
import pytest


def reference_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.points(3)
@pytest.mark.time_limit(3)
@pytest.mark.hint("Exponentiate, then divide each row by its sum.")
def test_softmax_matches_reference(submission):
    """softmax matches the reference on random logits"""
    z = np.random.default_rng(0).normal(size=(20, 5))
    p = submission.softmax(z)
    assert type(p) is np.ndarray, f"softmax must return an ndarray, got {type(p).__name__}"
    np.testing.assert_allclose(p, reference_softmax(z), rtol=1e-7, atol=1e-12)


@pytest.mark.points(2)
@pytest.mark.time_limit(3)
@pytest.mark.visibility("after_due_date")
@pytest.mark.hint("Subtract the row maximum before np.exp to avoid overflow.")
def test_softmax_is_stable_for_large_logits(submission):
    """softmax stays finite for logits of 1000"""
    z = np.array([[1000.0, 999.0, 0.0]])
    p = submission.softmax(z)
    assert np.isfinite(p).all(), "softmax returned NaN or inf for large logits"
    np.testing.assert_allclose(p, reference_softmax(z), rtol=1e-7)


@pytest.mark.points(1)
@pytest.mark.time_limit(3)
def test_softmax_does_not_modify_its_input(submission):
    """softmax leaves its input unchanged"""
    z = np.random.default_rng(1).normal(size=(4, 3))
    copy = z.copy()
    submission.softmax(z)
    np.testing.assert_array_equal(z, copy)


@pytest.mark.points(2)
@pytest.mark.time_limit(3)
def test_running_mean_accumulates(submission):
    """RunningMean keeps the mean over several updates"""
    rm = submission.RunningMean()
    rng = np.random.default_rng(2)
    chunks = [rng.normal(size=n) for n in (3, 5, 1)]
    for chunk in chunks:
        rm.update(chunk)
    assert rm.count == 9
    np.testing.assert_allclose(rm.mean, np.concatenate(chunks).mean(), rtol=1e-12)


@pytest.mark.points(2)
@pytest.mark.time_limit(3)
def test_fit_line_explains_held_out_points(submission, rubric, credit):
    """fit_line: R^2 on held-out points (partial credit)"""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 200)
    y = 2.0 * x + 0.5 + rng.normal(scale=0.1, size=200)
    a, b = submission.fit_line(x[:100], y[:100])
    residual = y[100:] - (float(a) * x[100:] + float(b))
    r2 = 1 - residual.var() / y[100:].var()
    credit.partial("r2", r2 if np.isfinite(r2) else float("nan"), rubric)
