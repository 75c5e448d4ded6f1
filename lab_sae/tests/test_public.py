"""Public tests of lab_sae: quick checks you can run with `python -m pytest tests` (the graded
tests are more thorough and also train your SAEs)."""

import pytest
import torch


@pytest.mark.points(0)
def test_topk_keeps_k_entries(submission):
    """topk_activation: k non-zeros per row, holding the k largest values"""
    x = torch.tensor([[0.1, 3.0, 2.0, 0.5, 1.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    out = submission.topk_activation(x, 2)
    assert tuple(out.shape) == (2, 5), f"expected shape (2, 5), got {tuple(out.shape)}"
    expected = torch.tensor([[0.0, 3.0, 2.0, 0.0, 0.0], [5.0, 4.0, 0.0, 0.0, 0.0]])
    assert torch.equal(out, expected), f"expected {expected.tolist()}, got {out.tolist()}"


@pytest.mark.points(0)
def test_forward_shapes(submission):
    """SAEEnsemble: forward returns (pre_acts, latents, recons) of shapes (S,B,L), (S,B,L),
    (S,B,D)"""
    model = submission.SAEEnsemble(2, 12, 8, 3)
    pre, latents, recons = model(torch.rand(5, 12))
    shapes = [tuple(t.shape) for t in (pre, latents, recons)]
    assert shapes == [(2, 5, 8), (2, 5, 8), (2, 5, 12)], f"got shapes {shapes}"
    assert ((latents != 0).sum(-1) <= 3).all(), "at most k = 3 latents may be non-zero"


@pytest.mark.points(0)
def test_ensemble_loss_keys(submission):
    """ensemble_loss: a dict with loss (), mse (S,), consistency (S,), ensemble_mse ()"""
    x = torch.rand(4, 6)
    out = submission.ensemble_loss(x, torch.rand(3, 4, 6), 0.1)
    shapes = {key: tuple(out[key].shape) for key in ("loss", "mse", "consistency",
                                                     "ensemble_mse")}
    assert shapes == {"loss": (), "mse": (3,), "consistency": (3,), "ensemble_mse": ()}, shapes


@pytest.mark.points(0)
def test_pearson_of_identical_and_negated_rows(submission):
    """pearson_correlation: 1 for identical rows, -1 for negated ones"""
    x = torch.rand(3, 10)
    r = submission.pearson_correlation(torch.cat([x, x]), torch.cat([x, -x]))
    assert tuple(r.shape) == (6,), f"expected shape (6,), got {tuple(r.shape)}"
    torch.testing.assert_close(r.double(), torch.tensor([1.0] * 3 + [-1.0] * 3,
                                                        dtype=torch.float64))


@pytest.mark.points(0)
def test_steps_since_fired_counts(submission):
    """update_steps_since_fired: 0 where a feature fired, count + 1 elsewhere"""
    counter = torch.tensor([[3, 0, 7]])
    latents = torch.tensor([[[0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]])
    out = submission.update_steps_since_fired(counter, latents)
    assert out.tolist() == [[4, 1, 0]], f"expected [[4, 1, 0]], got {out.tolist()}"
