"""Hidden tests: SGD / AdaGrad / Adam against torch.optim on the same gradient sequences.

The worker steps the student's optimiser with the lab's ``compare.optimizer_trajectory``; the
grader steps torch.optim on the same initial parameters and gradients and compares every step:
float64 to 1e-10 over 200 steps, float32 to 1e-6 over 10 steps. The first steps of the first
setting are also taken a second way, from here: the student's optimiser over an ``nn.Linear``'s
weight, its gradient set by ``compare.forward_backward`` and ``step()`` called through the proxy;
both ways must agree, so a replaced ``optimizer_trajectory`` does not go unnoticed.

PYTEST_DONT_REWRITE: the assertion messages are written for the student as they are.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from grading.received import describe, returned

STEPS = 200
TOL64, TOL32 = 1e-10, 1e-6
DIRECT_STEPS = 2  # steps of the first setting also taken directly from the grader


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


def _trajectory(value, reference, label):
    """The worker's trajectory, checked against the reference's structure: a list of plain
    tensors with the reference's shapes and dtypes (values may be anything: compared next)."""
    if type(value) is not list or len(value) != len(reference):
        raise AssertionError(f"{label}: the trajectory must be a list of {len(reference)} "
                             f"tensors; got {describe(value)}")
    return [returned(a, f"{label}: parameter {i}'s trajectory", shape=tuple(b.shape),
                     dtype=b.dtype, finite=False, hint="Update the parameters in place.")
            for i, (a, b) in enumerate(zip(value, reference, strict=True))]


def _direct_steps(fixed, student_class, param, grads, steps, options, label, group=None):
    """``param`` after each of the first ``steps`` steps of ``student_class``, stepped from
    here: the optimiser holds the weight of a bias-free nn.Linear (a (rows, cols) view of
    ``param``), ``compare.forward_backward`` on the identity input sets its gradient, and the
    student's ``step()`` runs through the proxy. Shapes: param (...), grads (steps, ...).
    ``group``: the options of the parameter's group (a dict like ``groups[0]``), if any."""
    torch_w = fixed("torch")
    rows, cols = (param.shape if param.dim() == 2 else (1, param.numel()))
    layer = torch_w.nn.Linear(cols, rows, bias=False, dtype=param.dtype)
    torch_w.nn.utils.vector_to_parameters(param.reshape(-1).clone(), layer.parameters())
    if group is None:
        optimizer = student_class(layer.parameters(), **options)
    else:
        own = {key: value for key, value in group.items() if key != "params"}
        optimizer = student_class([{**own, "params": layer.parameters()}], **options)
    forward_backward = fixed("compare").forward_backward
    eye = torch.eye(cols, dtype=param.dtype)
    after = []
    for t in range(steps):
        optimizer.zero_grad()
        g = grads[t].reshape(rows, cols)
        result = forward_backward(layer, eye, g.T.contiguous())  # d(sum(W^T * g^T))/dW = g
        grads_set = result.get("grads") if type(result) is dict else None
        got = grads_set.get("weight") if type(grads_set) is dict else None
        got = returned(got, f"{label}: the gradient set for a direct step", shape=(rows, cols),
                       dtype=param.dtype)
        if not torch.equal(got, g):
            raise AssertionError(f"{label}: the lab's compare.forward_backward no longer sets "
                                 "the gradients it is given; do not change the lab's files")
        optimizer.step()
        weight = returned(layer.weight, f"{label}: the parameter after a direct step",
                          shape=(rows, cols), dtype=param.dtype, finite=False)
        after.append(weight.detach().reshape(param.shape))
    return after


def _compare(fixed, compare_here, student_class, reference_class, name, combos, *,
             dtype=torch.float64, steps=STEPS, tol=TOL64, groups=None, seed=0):
    params, grads = compare_here.random_problem(steps, dtype=dtype, seed=seed)
    runner = fixed("compare").optimizer_trajectory
    for index, options in enumerate(combos):
        label = _describe(name, options) + (" with two parameter groups" if groups else "")
        ref = compare_here.optimizer_trajectory(reference_class, params, grads, groups=groups,
                                                **options)
        mine = _trajectory(runner(student_class, params, grads, groups=groups, **options), ref,
                           label)
        for i, (a, b) in enumerate(zip(mine, ref, strict=True)):
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
        if index == 0:  # parameter 0 (in the first group, when there are groups)
            direct = _direct_steps(fixed, student_class, params[0], grads[0],
                                   min(DIRECT_STEPS, steps), options, label,
                                   group=groups[0] if groups else None)
            for t, value in enumerate(direct):
                if not torch.allclose(value, mine[0][t + 1], rtol=tol, atol=tol,
                                      equal_nan=True):
                    raise AssertionError(
                        f"{label}: step {t + 1} of your optimiser, taken directly, differs from "
                        f"the same step in compare.optimizer_trajectory; the lab's compare.py "
                        f"must stay as it is")


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
