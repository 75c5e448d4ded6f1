"""Hidden tests: SGD / AdaGrad / Adam against torch.optim on the same gradient sequences.

The worker steps the student's optimiser with the lab's ``compare.optimizer_trajectory``; the
grader steps torch.optim on the same initial parameters and gradients and compares every step:
float64 to 1e-10 over 200 steps, float32 to 1e-6 over 10 steps.

PYTEST_DONT_REWRITE: the assertion messages are written for the student as they are.
"""

from __future__ import annotations

import itertools

import pytest
import torch

STEPS = 200
TOL64, TOL32 = 1e-10, 1e-6


def _product(**options) -> list[dict]:
    """Every combination of ``options`` (name -> values), as keyword dicts."""
    names = list(options)
    return [dict(zip(names, values, strict=True))
            for values in itertools.product(*(options[n] for n in names))]


# Every combination of the options, plus the defaults (``{}``): 5 + 8 + 4 + 17 + 17 runs.
SGD_PLAIN = [{}, *_product(lr=[0.05], dampening=[0.0, 0.5], weight_decay=[0.0, 0.1])]
SGD_MOMENTUM = _product(lr=[0.01], momentum=[0.5, 0.9], dampening=[0.0, 0.5],
                        weight_decay=[0.0, 0.1])
SGD_NESTEROV = _product(lr=[0.01], momentum=[0.5, 0.9], nesterov=[True], weight_decay=[0.0, 0.1])
ADAGRAD = [{}, *_product(lr=[0.1], lr_decay=[0.0, 0.01], weight_decay=[0.0, 0.1],
                         initial_accumulator_value=[0.0, 0.5], eps=[1e-10, 0.1])]
ADAM = [{}, *_product(lr=[0.01], betas=[(0.9, 0.999), (0.5, 0.9)], weight_decay=[0.0, 0.1],
                      eps=[1e-8, 0.1], amsgrad=[False, True])]


def _describe(name: str, options: dict) -> str:
    return f"{name}({', '.join(f'{k}={v}' for k, v in options.items())})"


def _compare(fixed, compare_here, student_class, reference_class, name, combos, *,
             dtype=torch.float64, steps=STEPS, tol=TOL64, groups=None, seed=0):
    params, grads = compare_here.random_problem(steps, dtype=dtype, seed=seed)
    runner = fixed("compare").optimizer_trajectory
    for options in combos:
        label = _describe(name, options) + (" with two parameter groups" if groups else "")
        mine = runner(student_class, params, grads, groups=groups, **options)
        ref = compare_here.optimizer_trajectory(reference_class, params, grads, groups=groups,
                                                **options)
        assert isinstance(mine, list) and len(mine) == len(ref), (
            f"{label}: the trajectory has the wrong structure")
        for i, (a, b) in enumerate(zip(mine, ref, strict=True)):
            assert isinstance(a, torch.Tensor) and a.shape == b.shape, (
                f"{label}: parameter {i} changed shape or type")
            assert a.dtype == b.dtype, (
                f"{label}: a {b.dtype} parameter became {a.dtype}; update it in place")
            bad = ~((a - b).abs() <= tol + tol * b.abs())
            if bad.any():
                first = int(bad.reshape(len(bad), -1).any(dim=1).nonzero()[0])
                worst = float((a - b).abs().max())
                frozen = " (this parameter has no gradient: leave it alone)" \
                    if grads[i] is None else ""
                raise AssertionError(
                    f"{label}: parameter {i}{frozen} differs from torch.optim."
                    f"{reference_class.__name__} from step {first} on (tolerance {tol:g}; "
                    f"largest difference {worst:.3g} over {steps} steps)")


@pytest.mark.points(3)
@pytest.mark.time_limit(40)
@pytest.mark.hint("p <- p - lr * (grad + weight_decay * p); read lr and weight_decay from "
                  "each param group, and skip parameters whose .grad is None.")
def test_sgd_plain_and_weight_decay(submission, fixed, compare_here, no_shortcut):
    """SGD without momentum (default lr, weight decay) matches torch.optim.SGD in float64"""
    no_shortcut("optimizers")
    _compare(fixed, compare_here, submission.SGD, torch.optim.SGD, "SGD", SGD_PLAIN)


@pytest.mark.points(4)
@pytest.mark.time_limit(40)
@pytest.mark.hint("On the first step the momentum buffer is a copy of the gradient (no "
                  "dampening); after that buf = momentum * buf + (1 - dampening) * grad.")
def test_sgd_momentum_and_dampening(submission, fixed, compare_here, no_shortcut):
    """SGD with momentum and dampening matches torch.optim.SGD in float64"""
    no_shortcut("optimizers")
    _compare(fixed, compare_here, submission.SGD, torch.optim.SGD, "SGD", SGD_MOMENTUM)


@pytest.mark.points(3)
@pytest.mark.time_limit(40)
@pytest.mark.hint("With Nesterov the step direction is grad + momentum * buf (the gradient "
                  "including weight decay), after updating buf.")
def test_sgd_nesterov(submission, fixed, compare_here, no_shortcut):
    """SGD with Nesterov momentum matches torch.optim.SGD in float64"""
    no_shortcut("optimizers")
    _compare(fixed, compare_here, submission.SGD, torch.optim.SGD, "SGD", SGD_NESTEROV)


@pytest.mark.points(6)
@pytest.mark.time_limit(40)
@pytest.mark.hint("Count steps from 1 per parameter; clr = lr / (1 + (t - 1) * lr_decay); the "
                  "accumulator starts at initial_accumulator_value; eps is added to sqrt(sum).")
def test_adagrad(submission, fixed, compare_here, no_shortcut):
    """AdaGrad (lr decay, weight decay, initial accumulator, eps) matches torch.optim.Adagrad"""
    no_shortcut("optimizers")
    _compare(fixed, compare_here, submission.AdaGrad, torch.optim.Adagrad, "AdaGrad", ADAGRAD)


@pytest.mark.points(8)
@pytest.mark.time_limit(40)
@pytest.mark.hint("Bias-correct both moments: step lr / (1 - beta1**t) on m, and divide "
                  "sqrt(v) by sqrt(1 - beta2**t) before adding eps. AMSGrad keeps the running "
                  "maximum of v and uses it instead of v.")
def test_adam(submission, fixed, compare_here, no_shortcut):
    """Adam (betas, weight decay, eps, AMSGrad) matches torch.optim.Adam in float64"""
    no_shortcut("optimizers")
    _compare(fixed, compare_here, submission.Adam, torch.optim.Adam, "Adam", ADAM)


@pytest.mark.points(2)
@pytest.mark.time_limit(40)
@pytest.mark.hint("Work in the parameter's dtype (torch.zeros_like(p), not torch.zeros(...)) "
                  "and keep Python floats for the hyperparameters.")
def test_float32_first_steps(submission, fixed, compare_here, no_shortcut):
    """all three optimisers match torch.optim in float32 over 10 steps"""
    no_shortcut("optimizers")
    cases = [(submission.SGD, torch.optim.SGD, "SGD",
              {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
             (submission.AdaGrad, torch.optim.Adagrad, "AdaGrad", {"lr": 0.1, "lr_decay": 0.01}),
             (submission.Adam, torch.optim.Adam, "Adam", {"lr": 0.01, "amsgrad": True})]
    for student_class, reference_class, name, options in cases:
        _compare(fixed, compare_here, student_class, reference_class, name, [options],
                 dtype=torch.float32, steps=10, tol=TOL32, seed=1)


@pytest.mark.points(2)
@pytest.mark.time_limit(40)
@pytest.mark.hint("Loop over self.param_groups and read every hyperparameter from the group, "
                  "not from self.defaults or from the constructor's arguments.")
def test_param_groups(submission, fixed, compare_here, no_shortcut):
    """the optimisers honour per-group hyperparameters"""
    no_shortcut("optimizers")
    groups = [{"params": [0], "lr": 0.1, "weight_decay": 0.2}, {"params": [1, 2]}]
    cases = [(submission.SGD, torch.optim.SGD, "SGD", {"lr": 0.01, "momentum": 0.9}),
             (submission.AdaGrad, torch.optim.Adagrad, "AdaGrad", {"lr": 0.05}),
             (submission.Adam, torch.optim.Adam, "Adam", {"lr": 0.01})]
    for student_class, reference_class, name, options in cases:
        _compare(fixed, compare_here, student_class, reference_class, name, [options],
                 steps=50, groups=groups, seed=2)
