"""Hidden tests of the functions of lab_sae: topk_activation (exactly k kept entries with
ties, ReLU, gradient mask), ensemble_loss (terms, gradient, identical SAEs, the ensemble's
mean reconstruction) and pearson_correlation (against numpy's corrcoef)."""

import numpy as np
import pytest
import torch
from sae_reference import loss_gradient, loss_terms, topk

from grading.received import describe, returned


# ---- topk_activation
def _tensor(value, name, shape, dtype="float"):
    """``value`` checked: a plain finite tensor of ``shape`` and ``dtype`` (the input's)."""
    return returned(value, name, shape=tuple(shape), dtype=dtype,
                    hint="Return a new tensor with the shape and dtype of the input.")


def _tied_inputs() -> tuple[torch.Tensor, int]:
    """(2, 4, 12) positive pre-activations, many ties at the k-th value (k = 5)."""
    rows = [
        torch.ones(12),                                              # every value ties
        torch.tensor([3.0, 2, 2, 2, 2, 2, 2, 1, 1, 1, 0.5, 0.5]),   # ties across the cut
        torch.tensor([1.0, 1, 1, 1, 1, 1, 2, 2, 0.1, 0.1, 0.1, 0.1]),
        torch.tensor([5.0, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1]),
        torch.full((12,), 0.25),
        torch.tensor([2.0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 9]),
        torch.arange(12.0) + 1,
        torch.tensor([1.0, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7]),
    ]
    return torch.stack(rows).reshape(2, 4, 12), 5


@pytest.mark.points(6)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Use torch.topk (it returns exactly k indices even when values tie) and "
                  "scatter the kept values into zeros. Comparing with the k-th value "
                  "(x >= kth) keeps every tied entry: more than k.")
def test_topk_keeps_exactly_k_entries_with_ties(submission):
    """topk_activation keeps exactly k entries per row, ties included"""
    x, k = _tied_inputs()
    out = _tensor(submission.topk_activation(x.clone(), k), "topk_activation", x.shape,
                  torch.float32)
    counts = (out != 0).sum(-1)
    assert (counts == k).all(), (
        f"with k = {k} and positive inputs every row must have exactly {k} non-zeros; the "
        f"rows had {counts.flatten().tolist()} (inputs with ties, e.g. a row of twelve 1.0s)")
    kth = torch.topk(x, k, dim=-1).values[..., -1:]
    kept = out != 0
    assert torch.equal(out[kept], x[kept]), "a kept entry must hold its input value (relu of it)"
    assert (x[kept] >= kth.expand_as(x)[kept]).all(), "a kept entry is not among the k largest"
    assert (x[~kept] <= kth.expand_as(x)[~kept]).all(), (
        "an entry larger than the k-th largest value of its row was dropped")


@pytest.mark.points(4)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Apply ReLU to the k kept values: a kept value that is negative becomes 0. "
                  "The dropped positions are 0, not their value.")
def test_topk_relu_and_values(submission):
    """topk_activation: ReLU of the kept values, zeros elsewhere (random inputs, any shape)"""
    g = torch.Generator().manual_seed(1)
    for shape, k in (((3, 7, 40), 10), ((16, 9), 9), ((5, 30), 1)):
        x = torch.randn(shape, generator=g, dtype=torch.float64)
        x[0] = -x[0].abs()  # a row where every kept value is negative
        out = _tensor(submission.topk_activation(x.clone(), k), "topk_activation", shape,
                      torch.float64)
        expected = topk(x, k)
        if not torch.equal(out, expected):
            wrong = (out != expected).sum().item()
            raise AssertionError(f"shape {shape}, k = {k}: {wrong} entries differ from ReLU of "
                                 f"the top-k values (e.g. a row whose values are all negative "
                                 f"must come back as zeros)")


@pytest.mark.points(6)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Build the output from the kept values (topk values scattered into zeros, "
                  "or the input times a 0/1 mask); do not add detached corrections.")
def test_topk_gradient_reaches_kept_entries_only(submission, fixed):
    """topk_activation: the gradient flows through the kept (positive) entries only"""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 6, 32, generator=g)
    upstream = torch.randn(4, 6, 32, generator=g)
    k = 8
    grad = _tensor(fixed("probes").topk_input_gradient(x, k, upstream),
                   "the gradient of topk_activation", x.shape, torch.float32)
    keep = topk(x, k) > 0
    expected = torch.where(keep, upstream, torch.zeros_like(upstream))
    leaked = ((grad != 0) & ~keep).sum().item()
    assert leaked == 0, (f"the gradient reached {leaked} entries that the top-k dropped; it "
                         f"must be zero outside the k kept positions")
    torch.testing.assert_close(grad, expected, rtol=1e-6, atol=1e-7,
                               msg="the gradient at the kept entries must equal the upstream "
                                   "gradient (d relu(v)/dv = 1 for v > 0)")


# ---- ensemble_loss
KEYS = ("mse", "consistency", "ensemble_mse", "loss")


def _close(got, expected, what, rtol=1e-5, atol=1e-9):
    """Compare the student's ``got`` with the hidden ``expected`` (same shape); the message shows
    the student's values only."""
    if not torch.allclose(got, expected, rtol=rtol, atol=atol):
        show = [round(v, 6) for v in got.reshape(-1).tolist()[:8]]
        error = float((got - expected).norm() / max(float(expected.norm()), 1e-300))
        raise AssertionError(f"{what}: yours {show} is off (relative error {error:.2e})")


def _terms(value, S):
    """The four terms of ensemble_loss, checked, as float64 tensors."""
    if type(value) is not dict or set(KEYS) - set(value):
        got = sorted(value) if type(value) is dict else describe(value)
        raise AssertionError(f"ensemble_loss must return a dict with keys {list(KEYS)}; got "
                             f"{got}")
    shapes = {"loss": (), "mse": (S,), "consistency": (S,), "ensemble_mse": ()}
    return {key: returned(value[key], f'ensemble_loss: "{key}"', shape=shapes[key],
                          hint="One value per SAE for mse and consistency, scalars for "
                               "ensemble_mse and loss.").double() for key in KEYS}


def _batch(seed, S=3, B=16, D=784):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, D, generator=g)
    recons = x + 0.1 * torch.randn(S, B, D, generator=g)
    return x, recons


@pytest.mark.points(6)
@pytest.mark.time_limit(20)
@pytest.mark.hint('"mse" and "consistency" are means over the batch and the pixels, one per '
                  'SAE; "loss" adds them up over the SAEs: mse.sum() + weight * '
                  'consistency.sum().')
def test_ensemble_loss_terms_match_reference(submission):
    """ensemble_loss: per-SAE MSE, consistency, ensemble MSE and the total loss"""
    for seed, weight in ((0, 0.1), (1, 0.0), (2, 2.5)):
        x, recons = _batch(seed)
        got = _terms(submission.ensemble_loss(x, recons, weight), 3)
        expected = loss_terms(x, recons, weight)
        for key in KEYS:
            _close(got[key], expected[key], f'"{key}" with consistency_weight {weight}')


@pytest.mark.points(4)
@pytest.mark.time_limit(20)
@pytest.mark.hint("d loss / d recons[s] = 2 / (B D) * ((recons[s] - x) + weight * (recons[s] "
                  "- mean)). Sum the per-SAE terms (a mean divides every gradient by S) and use "
                  "torch operations only (no .item(), numpy or torch.no_grad()).")
def test_ensemble_loss_gradient(submission, fixed):
    """ensemble_loss: the gradient of "loss" with respect to the reconstructions"""
    x, recons = _batch(3, S=4, B=8, D=50)
    grad = returned(fixed("probes").loss_gradient(x, recons, 0.5),
                    'the gradient of ensemble_loss(...)["loss"] with respect to recons',
                    shape=tuple(recons.shape))
    if not grad.any():
        raise AssertionError('no gradient reached recons from ensemble_loss(...)["loss"]')
    expected = loss_gradient(x, recons, 0.5)
    if not torch.allclose(grad.double(), expected, rtol=1e-4, atol=1e-10):
        ratio = float((grad.double() * expected).sum() / expected.square().sum())
        raise AssertionError(f"d loss / d recons differs from the gradient of mse.sum() + "
                             f"weight * consistency.sum() (its projection on the expected "
                             f"gradient is {ratio:.3f} times it)")


@pytest.mark.points(3)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Consistency compares each SAE's reconstruction with the ensemble's mean "
                  "reconstruction recons.mean(0): identical SAEs agree, so it is 0.")
def test_consistency_is_zero_for_identical_saes(submission):
    """consistency loss is zero for identical SAEs"""
    g = torch.Generator().manual_seed(6)
    S, D, L = 3, 784, 32
    one = {"W_enc": torch.randn(1, D, L, generator=g) * 0.05, "b_enc": torch.zeros(1, L),
           "W_dec": torch.nn.functional.normalize(torch.randn(1, L, D, generator=g), dim=-1),
           "b_pre": torch.rand(1, D, generator=g) * 0.2}
    model = submission.SAEEnsemble(S, D, L, 8, initialize=False)
    model.load_state_dict({name: value.repeat(S, *([1] * (value.dim() - 1)))
                           for name, value in one.items()})
    x = torch.rand(10, D, generator=g)
    out = model(x)
    if type(out) not in (tuple, list) or len(out) != 3:
        raise AssertionError(f"forward must return (pre_acts, latents, recons); got "
                             f"{describe(out)}")
    recons = returned(out[2], "forward: recons", shape=(S, 10, D))
    got = _terms(submission.ensemble_loss(x, recons, 1.0), S)
    worst = got["consistency"].abs().max().item()
    assert worst < 1e-10, f"identical SAEs gave a consistency of {worst:.3g}; expected 0"
    _close(got["ensemble_mse"], got["mse"][0], "identical SAEs: ensemble_mse vs SAE 0's mse",
           atol=1e-10)


@pytest.mark.points(3)
@pytest.mark.time_limit(30)
@pytest.mark.hint('"ensemble_mse" is the MSE of the averaged reconstruction recons.mean(0), '
                  "not the average of the SAEs' MSEs.")
def test_ensemble_mse_at_most_mean_member_mse(submission):
    """the ensemble-averaged reconstruction's MSE is at most the members' mean MSE"""
    for seed in (7, 8):
        x, recons = _batch(seed, S=5)
        got = _terms(submission.ensemble_loss(x, recons, 0.1), 5)
        expected = loss_terms(x, recons, 0.1)
        assert got["ensemble_mse"] <= got["mse"].mean() + 1e-9, (
            f"ensemble_mse {got['ensemble_mse']:.6f} exceeds the mean member MSE "
            f"{got['mse'].mean():.6f}; averaging reconstructions cannot be worse (Jensen)")
        _close(got["ensemble_mse"], expected["ensemble_mse"], '"ensemble_mse" (the MSE of '
               "recons.mean(0))", atol=1e-10)


# ---- pearson_correlation
def _check(value, shape, finite=True):
    """pearson_correlation's result checked (a float64 tensor of ``shape``), as an array."""
    return returned(value, "pearson_correlation", shape=shape, dtype=torch.float64,
                    finite=finite, hint="One correlation per row, in float64.").numpy()


def _agree(got, expected, what, atol=1e-6):
    """Fail with the number of rows off (no hidden values shown) unless |got - expected| <=
    atol everywhere."""
    off = np.abs(got - expected) > atol
    if off.any():
        raise AssertionError(f"{what}: {int(off.sum())} of {off.size} correlations differ from "
                             f"np.corrcoef's by more than {atol:g} (up to "
                             f"{float(np.abs(got - expected).max()):.3g})")


def _numpy(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(x, y, strict=True)])


@pytest.mark.points(3)
@pytest.mark.time_limit(20)
@pytest.mark.hint("Centre each row, then sum(xc * yc) / sqrt(sum(xc^2) * sum(yc^2)), row by "
                  "row (reduce over the last dimension only).")
def test_pearson_matches_numpy(submission):
    """pearson_correlation matches np.corrcoef row by row"""
    g = torch.Generator().manual_seed(10)
    x = torch.rand(50, 784, generator=g)
    y = 0.7 * x + 0.3 * torch.rand(50, 784, generator=g) - 0.1
    y[3] = -y[3]
    got = _check(submission.pearson_correlation(x, y), (50,))
    _agree(got, _numpy(x, y), "rows of (50, 784) inputs")
    batched = _check(submission.pearson_correlation(x.reshape(5, 10, 784),
                                                    y.reshape(5, 10, 784)), (5, 10))
    if not np.allclose(batched.reshape(-1), got, rtol=0, atol=1e-12):
        raise AssertionError("leading dimensions (S, N, D) must work like rows: the (5, 10, 784) "
                             "inputs gave other correlations than the same rows as (50, 784)")


@pytest.mark.points(3)
@pytest.mark.time_limit(20)
@pytest.mark.hint("In float32, E[xy] - E[x]E[y] loses every digit when a row varies by 1e-4 "
                  "around 0.5. Convert to float64 and centre the rows before multiplying.")
def test_pearson_near_constant_rows(submission):
    """pearson_correlation on nearly constant float32 rows (within 1e-6 of numpy)"""
    g = torch.Generator().manual_seed(11)
    base = 0.5 + 1e-4 * torch.randn(20, 784, generator=g)
    x = base.float()
    y = (0.5 + 0.8 * (base - 0.5) + 5e-5 * torch.randn(20, 784, generator=g)).float()
    x[0] = 0.25 + 1e-6 * torch.arange(784, dtype=torch.float32)
    y[0] = 0.75 - 2e-6 * torch.arange(784, dtype=torch.float32)
    got = _check(submission.pearson_correlation(x, y), (20,))
    expected = _numpy(x.numpy(), y.numpy())
    worst = float(np.abs(got - expected).max())
    assert worst <= 1e-6, (f"on nearly constant rows the correlation is off numpy's by up to "
                           f"{worst:.3g} (1e-6 allowed; yours on row 0: {got[0]:.6f})")


@pytest.mark.points(3)
@pytest.mark.time_limit(20)
@pytest.mark.hint("A constant row has zero variance: np.corrcoef returns NaN there; the "
                  "handout asks for 0.0. Test the denominator with torch.where instead of "
                  "dividing by it blindly.")
def test_pearson_constant_rows_give_zero(submission):
    """pearson_correlation is 0, never NaN, on constant rows"""
    g = torch.Generator().manual_seed(12)
    x = torch.rand(6, 784, generator=g)
    y = torch.rand(6, 784, generator=g)
    x[0] = 0.3
    y[1] = 0.7
    x[2] = 0.0
    y[2] = 0.0
    x[3] = 1.0 / 3.0
    got = _check(submission.pearson_correlation(x, y), (6,), finite=False)
    assert np.isfinite(got).all(), f"NaN or inf on constant rows: {got.round(4).tolist()}"
    assert (got[:4] == 0.0).all(), (f"a constant row must give exactly 0.0; rows 0 to 3 (each "
                                    f"with a constant x or y) gave {got[:4].tolist()}")
    _agree(got[4:], _numpy(x[4:], y[4:]), "the two rows that are not constant")
