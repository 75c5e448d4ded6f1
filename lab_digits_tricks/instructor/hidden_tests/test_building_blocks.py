"""Hidden tests of the building blocks: the three initialisations (statistics over many
draws), BatchNorm1d against torch.nn.BatchNorm1d, and inverted Dropout.

PYTEST_DONT_REWRITE: the assertion messages are written for the student as they are.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grading.received import describe, returned

SHAPES = ((64, 100), (100, 50), (50, 10), (300, 120))  # (fan_in, fan_out) of nn.Linear
SAMPLES = 20_000  # weights drawn per shape: the variance is then known to about 0.6%
FEATURES = 6


def _draw(fixed, init, fan_in, fan_out, **kwargs):
    """Weights and bias of a fresh nn.Linear(fan_in, fan_out) after ``init``."""
    layer = fixed("torch").nn.Linear(fan_in, fan_out)
    init(layer, **kwargs)
    where = f"nn.Linear({fan_in}, {fan_out})"
    weight = returned(layer.weight, f"the weight of {where} after the init",
                      shape=(fan_out, fan_in), dtype=torch.float32,
                      hint="Fill the weight in place; keep its shape and dtype.")
    bias = returned(layer.bias, f"the bias of {where} after the init", shape=(fan_out,),
                    dtype=torch.float32, hint="Set the bias to 0 in place.")
    return weight.detach().double().numpy(), bias.detach().double().numpy()


def _check_uniform(fixed, init, name, lower, upper, shapes, **kwargs):
    for fan_in, fan_out in shapes:
        lo, hi = lower(fan_in, fan_out), upper(fan_in, fan_out)
        weights = []
        for _ in range(math.ceil(SAMPLES / (fan_in * fan_out))):
            w, b = _draw(fixed, init, fan_in, fan_out, **kwargs)
            assert np.all(b == 0), f"{name}: the bias must be set to 0; got values up to " \
                                   f"{np.abs(b).max():.3g}"
            weights.append(w.ravel())
        w = np.concatenate(weights)
        where = f"{name} on nn.Linear({fan_in}, {fan_out})"
        assert w.min() >= lo - 1e-6 and w.max() <= hi + 1e-6, (
            f"{where}: weights must lie in [{lo:.4g}, {hi:.4g}]; got [{w.min():.4g}, "
            f"{w.max():.4g}]")
        width = hi - lo
        expected_var = width**2 / 12
        assert abs(w.var() - expected_var) <= 0.04 * expected_var, (
            f"{where}: weight variance should be {expected_var:.4g}; got {w.var():.4g}")
        assert w.min() <= lo + 0.02 * width and w.max() >= hi - 0.02 * width, (
            f"{where}: weights should fill [{lo:.4g}, {hi:.4g}] (a uniform draw); got "
            f"[{w.min():.4g}, {w.max():.4g}]")
        assert abs(w.mean() - (lo + hi) / 2) <= 0.02 * width, (
            f"{where}: weight mean should be {(lo + hi) / 2:.4g}; got {w.mean():.4g}")


@pytest.mark.points(3)
@pytest.mark.time_limit(40)
@pytest.mark.hint("Fill module.weight with U(low, high) drawn from torch (Tensor.uniform_ or "
                  "torch.rand), set the bias to 0, and do nothing for other modules.")
def test_uniform_init(submission, fixed, no_shortcut):
    """init_uniform: U(low, high) weights and zero bias"""
    no_shortcut("init")
    _check_uniform(fixed, submission.init_uniform, "init_uniform()",
                   lambda i, o: -0.1, lambda i, o: 0.1, SHAPES[:2])
    _check_uniform(fixed, submission.init_uniform, "init_uniform(low=0.2, high=0.5)",
                   lambda i, o: 0.2, lambda i, o: 0.5, SHAPES[2:], low=0.2, high=0.5)


@pytest.mark.points(4)
@pytest.mark.time_limit(40)
@pytest.mark.hint("nn.Linear(fan_in, fan_out).weight has shape (fan_out, fan_in); the Xavier "
                  "bound is sqrt(6 / (fan_in + fan_out)), i.e. variance 2 / (fan_in + fan_out).")
def test_xavier_init(submission, fixed, no_shortcut):
    """init_xavier: U(-a, a) with a = sqrt(6 / (fan_in + fan_out))"""
    no_shortcut("init")

    def bound(fan_in, fan_out):
        return math.sqrt(6 / (fan_in + fan_out))

    _check_uniform(fixed, submission.init_xavier, "init_xavier",
                   lambda i, o: -bound(i, o), bound, SHAPES)


@pytest.mark.points(4)
@pytest.mark.time_limit(40)
@pytest.mark.hint("He (Kaiming) uniform for ReLU uses fan_in only: bound sqrt(6 / fan_in), "
                  "variance 2 / fan_in. fan_in is weight.shape[1] for nn.Linear.")
def test_he_init(submission, fixed, no_shortcut):
    """init_he: U(-a, a) with a = sqrt(6 / fan_in)"""
    no_shortcut("init")

    def bound(fan_in, fan_out):
        return math.sqrt(6 / fan_in)

    _check_uniform(fixed, submission.init_he, "init_he", lambda i, o: -bound(i, o), bound,
                   SHAPES)


@pytest.mark.points(2)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Check isinstance(module, nn.Linear) before touching anything, and draw "
                  "from torch's generator (not numpy's) so torch.manual_seed fixes the draw.")
def test_inits_work_with_apply_and_follow_the_seed(submission, fixed, no_shortcut):
    """the inits work with model.apply, leave other layers alone, and follow torch.manual_seed"""
    no_shortcut("init")
    torch = fixed("torch")
    for name in ("init_uniform", "init_xavier", "init_he"):
        init = getattr(submission, name)
        model = submission.MLP(batch_norm=True)
        model.apply(init)
        bn = model.net[1]
        weight, bias = (returned(getattr(bn, key), f"the BatchNorm1d {key} after "
                                 f"model.apply({name})", shape=(100,), dtype=torch.float32)
                        for key in ("weight", "bias"))
        assert np.all(weight.detach().numpy() == 1) and np.all(bias.detach().numpy() == 0), (
            f"model.apply({name}) changed the BatchNorm1d parameters (weight should stay 1, "
            "bias 0); only nn.Linear layers should be initialised")
        draws = []
        for seed in (3, 3, 4):
            torch.manual_seed(seed)
            draws.append(_draw(fixed, init, 20, 30)[0])
        assert np.array_equal(draws[0], draws[1]), (
            f"{name}: two draws after torch.manual_seed(3) differ; draw from torch's random "
            "generator")
        assert not np.array_equal(draws[0], draws[2]), (
            f"{name}: draws after torch.manual_seed(3) and (4) are identical; the weights "
            "must be random")


def _batches(n_batches=5, size=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.5, 4.0, FEATURES)
    shift = torch.linspace(-3.0, 2.0, FEATURES)
    return [torch.randn(size, FEATURES, generator=generator) * scale + shift
            for _ in range(n_batches)]


def _close(name, got, expected, atol=1e-5, rtol=1e-5):
    """``got`` (from the worker) checked against ``expected``'s shape, then compared; the
    message gives the largest difference only."""
    assert got is not None, f"{name}: got None (no gradient reached it?)"
    got = returned(got, name, shape=tuple(expected.shape), finite=False,
                   hint="Keep the shape of the input.").double()
    expected = expected.double()
    diff = (got - expected).abs()
    if not bool((diff <= atol + rtol * expected.abs()).all()):
        raise AssertionError(f"{name} differs from torch.nn.BatchNorm1d's by up to "
                             f"{float(diff.max()):.3g}")


def _run(value, what):
    """compare.forward_backward's result from the worker: a dict with its four entries."""
    if type(value) is not dict or {"out", "grad_input", "grads", "buffers"} - set(value) or \
            type(value["grads"]) is not dict:
        raise AssertionError(f"running {what} forward and backward gave {describe(value)}; "
                             "do not change the lab's compare.py")
    return value


@pytest.mark.points(4)
@pytest.mark.time_limit(30)
@pytest.mark.hint("In training mode normalise with the batch mean and the biased variance "
                  "(x.var(dim=0, unbiased=False)); use only differentiable torch operations so "
                  "that autograd gives the gradients.")
def test_batchnorm_training_forward_and_backward(submission, fixed, compare_here,
                                                 no_shortcut):
    """BatchNorm1d in training mode: output and gradients match torch.nn.BatchNorm1d"""
    no_shortcut("batch_norm")
    run = fixed("compare").forward_backward
    x = _batches(1)[0]
    grad_out = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    for eps in (1e-5, 0.5):
        mine = _run(run(submission.BatchNorm1d(FEATURES, eps=eps), x, grad_out),
                    "BatchNorm1d")
        ref = compare_here.forward_backward(torch.nn.BatchNorm1d(FEATURES, eps=eps), x, grad_out)
        at = f" (eps={eps})"
        _close("the output" + at, mine["out"], ref["out"])
        _close("the gradient with respect to the input" + at, mine["grad_input"],
               ref["grad_input"])
        _close("the gradient of weight (gamma)" + at, mine["grads"].get("weight"),
               ref["grads"]["weight"])
        _close("the gradient of bias (beta)" + at, mine["grads"].get("bias"),
               ref["grads"]["bias"])


@pytest.mark.points(4)
@pytest.mark.time_limit(30)
@pytest.mark.hint("After each training batch: running = (1 - momentum) * running + momentum * "
                  "statistic, with the *unbiased* batch variance for running_var; update them "
                  "under torch.no_grad() (or with detached tensors).")
def test_batchnorm_running_statistics(submission, fixed, no_shortcut):
    """BatchNorm1d updates running_mean and running_var like torch (momentum 0.1 and 0.3)"""
    no_shortcut("batch_norm")
    for momentum in (0.1, 0.3):
        mine = submission.BatchNorm1d(FEATURES, momentum=momentum)
        ref = torch.nn.BatchNorm1d(FEATURES, momentum=momentum)
        for k, x in enumerate(_batches(4, seed=2)):
            mine(x)
            ref(x)
            for name in ("running_mean", "running_var"):
                _close(f"{name} after training batch {k + 1} (momentum {momentum})",
                       getattr(mine, name), getattr(ref, name))


@pytest.mark.points(3)
@pytest.mark.time_limit(30)
@pytest.mark.hint("In eval mode (self.training is False) normalise with running_mean and "
                  "running_var and leave them unchanged.")
def test_batchnorm_eval_uses_running_statistics(submission, fixed, no_shortcut):
    """BatchNorm1d in eval mode uses (and keeps) the running statistics"""
    no_shortcut("batch_norm")
    mine = submission.BatchNorm1d(FEATURES)
    ref = torch.nn.BatchNorm1d(FEATURES)
    batches = _batches(6, seed=3)
    for x in batches[:4]:
        mine(x)
        ref(x)
    mine.eval()
    ref.eval()
    for k, x in enumerate(batches[4:]):
        with torch.no_grad():
            expected = ref(x)
        _close(f"the eval-mode output for batch {k + 1}", mine(x), expected)
        single = x[:1]
        with torch.no_grad():
            expected_single = ref(single)
        _close("the eval-mode output of a single row", mine(single), expected_single)
    for name in ("running_mean", "running_var"):
        _close(f"{name} after eval-mode calls (they must not change)", getattr(mine, name),
               getattr(ref, name))


def _dropout(submission, p):
    layer = submission.Dropout(p)
    layer.train()
    return layer


@pytest.mark.points(2)
@pytest.mark.time_limit(30)
@pytest.mark.hint("In eval mode (self.training is False) return the input unchanged.")
def test_dropout_eval_is_identity(submission, no_shortcut):
    """Dropout in eval mode returns its input unchanged"""
    no_shortcut("dropout")
    x = torch.randn(50, 40, generator=torch.Generator().manual_seed(4))
    for p in (0.2, 0.5, 0.9):
        layer = _dropout(submission, p)
        layer.eval()
        out = returned(layer(x), f"Dropout({p}) in eval mode", shape=tuple(x.shape),
                       finite=False)
        assert torch.equal(out, x), f"Dropout({p}) in eval mode changed its input"


@pytest.mark.points(3)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Keep each entry with probability 1 - p and divide the kept ones by 1 - p "
                  "(inverted dropout), so that the expected output equals the input.")
def test_dropout_training_scaling(submission, fixed, no_shortcut):
    """Dropout in training mode zeroes a fraction p and scales the rest by 1 / (1 - p)"""
    no_shortcut("dropout")
    run = fixed("compare").forward_backward
    x = torch.randn(400, 250, generator=torch.Generator().manual_seed(5))
    x[x.abs() < 1e-3] = 1.0
    for p in (0.2, 0.5, 0.8):
        result = _run(run(_dropout(submission, p), x), f"Dropout({p})")
        out = returned(result["out"], f"Dropout({p})'s output", shape=tuple(x.shape),
                       dtype=torch.float32)
        grad = result["grad_input"]
        kept = out != 0
        fraction = 1 - float(kept.double().mean())
        assert abs(fraction - p) < 0.01, (
            f"Dropout({p}) zeroed {fraction:.3f} of the entries; expected about {p}")
        expected = x / (1 - p)
        assert torch.allclose(out[kept], expected[kept], rtol=1e-5, atol=1e-6), (
            f"Dropout({p}): kept entries should equal x / (1 - p) = x * {1 / (1 - p):.4g}; "
            f"got ratios around {float((out[kept] / x[kept]).mean()):.4g}")
        assert grad is not None, f"Dropout({p}): no gradient reached the input"
        grad = returned(grad, f"Dropout({p})'s input gradient", shape=tuple(x.shape),
                        dtype=torch.float32)
        expected_grad = kept.to(x.dtype) / (1 - p)
        assert torch.allclose(grad, expected_grad, rtol=1e-5, atol=1e-6), (
            f"Dropout({p}): the gradient should be mask / (1 - p); got something else")


@pytest.mark.points(2)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Draw the mask with torch (torch.rand_like / torch.bernoulli), so that "
                  "torch.manual_seed fixes it; p = 0 is the identity and p = 1 gives zeros.")
def test_dropout_edge_cases_and_seed(submission, fixed, no_shortcut):
    """Dropout: p = 0 and p = 1, and masks that follow torch.manual_seed"""
    no_shortcut("dropout")
    x = torch.randn(30, 20, generator=torch.Generator().manual_seed(6))
    shape = tuple(x.shape)
    same = returned(_dropout(submission, 0.0)(x), "Dropout(0.0)'s output", shape=shape,
                    finite=False)
    assert torch.equal(same, x), "Dropout(0.0) in training mode changed its input"
    out = returned(_dropout(submission, 1.0)(x), "Dropout(1.0)'s output", shape=shape,
                   finite=False)
    assert torch.equal(out, torch.zeros_like(x)), (
        "Dropout(1.0) in training mode should return zeros (no NaN or inf)")
    torch_remote = fixed("torch")
    layer = _dropout(submission, 0.5)
    torch_remote.manual_seed(7)
    first = returned(layer(x), "Dropout(0.5)'s output", shape=shape, finite=False)
    torch_remote.manual_seed(7)
    second = returned(layer(x), "Dropout(0.5)'s output", shape=shape, finite=False)
    third = returned(layer(x), "Dropout(0.5)'s output", shape=shape, finite=False)
    assert torch.equal(first, second), (
        "two Dropout masks after torch.manual_seed(7) differ; draw the mask from torch")
    assert not torch.equal(second, third), "two calls in a row gave the same Dropout mask"
    assert np.isfinite(first.numpy()).all(), "Dropout(0.5) returned NaN or inf"
