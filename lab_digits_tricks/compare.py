"""Compare your optimisers and layers with torch's, on the same inputs.

* :func:`optimizer_trajectory` steps an optimiser on a fixed gradient sequence and records the
  parameters after every step;
* :func:`forward_backward` runs a layer forward and backward and returns the output, the
  gradients and the buffers (running statistics).

    >>> import torch, submission
    >>> from compare import forward_backward, optimizer_trajectory, random_problem
    >>> params, grads = random_problem(steps=50, dtype=torch.float64)
    >>> mine = optimizer_trajectory(submission.Adam, params, grads, lr=0.01, amsgrad=True)
    >>> ref = optimizer_trajectory(torch.optim.Adam, params, grads, lr=0.01, amsgrad=True)
    >>> max((a - b).abs().max().item() for a, b in zip(mine, ref))   # ~1e-16 in float64
    >>> x = torch.randn(32, 5)
    >>> forward_backward(submission.BatchNorm1d(5), x)["out"]   # vs torch.nn.BatchNorm1d(5)

The grader uses the same two functions.
"""

from __future__ import annotations

import torch


def random_problem(steps: int = 200, shapes=((5, 3), (3,), (4,)), dtype=torch.float64,
                   seed: int = 0, frozen: tuple[int, ...] = (2,)):
    """Initial parameters and a gradient sequence drawn from ``torch.Generator(seed)``.

    Returns ``(params, grads)``: ``params`` a list of tensors of ``shapes``; ``grads`` a list
    with, per parameter, a tensor of shape (steps, *shape), or None for the parameters in
    ``frozen`` (they never get a gradient, so an optimiser must leave them unchanged).
    Parameter i's gradients are scaled by 10**(i - 1) so that eps terms matter.
    """
    generator = torch.Generator().manual_seed(seed)
    params, grads = [], []
    for i, shape in enumerate(shapes):
        params.append(torch.randn(shape, generator=generator, dtype=dtype))
        g = torch.randn((steps, *shape), generator=generator, dtype=dtype) * 10.0 ** (i - 1)
        grads.append(None if i in frozen else g)
    return params, grads


def optimizer_trajectory(optimizer_class, params, grads, groups=None, **options):
    """Run ``optimizer_class`` on copies of ``params`` fed the gradients ``grads``.

    Parameters
    ----------
    optimizer_class : a ``torch.optim.Optimizer`` class (``torch.optim.SGD``, your ``SGD``)
    params : list of P tensors (the initial values; not modified)
    grads : list of P entries: a tensor of shape (steps, *params[i].shape), or None
    groups : None (one group with ``options``), or a list of dicts
        ``{"params": [indices], **group_options}`` for per-group hyperparameters
    options : the optimiser's keyword arguments (lr, momentum, ...)

    Returns
    -------
    trajectory : list of P tensors of shape (steps + 1, *params[i].shape): the values before
        the first step and after each step.
    """
    if len(params) != len(grads):
        raise ValueError(f"got {len(params)} params but {len(grads)} gradient sequences.")
    steps = {len(g) for g in grads if g is not None}
    if len(steps) != 1:
        raise ValueError(f"every gradient sequence must have the same length; got {steps}.")
    (n_steps,) = steps
    leaves = [p.detach().clone().requires_grad_(True) for p in params]
    if groups is None:
        optimizer = optimizer_class(leaves, **options)
    else:
        optimizer = optimizer_class(
            [{**g, "params": [leaves[i] for i in g["params"]]} for g in groups], **options)
    history = [[leaf.detach().clone()] for leaf in leaves]
    for t in range(n_steps):
        optimizer.zero_grad()
        for leaf, g in zip(leaves, grads, strict=True):
            if g is not None:
                leaf.grad = g[t].clone()
        optimizer.step()
        for record, leaf in zip(history, leaves, strict=True):
            record.append(leaf.detach().clone())
    return [torch.stack(record) for record in history]


def forward_backward(layer, x, grad_out=None, train=True):
    """Run ``layer`` on ``x`` in training (or eval) mode and backpropagate ``grad_out``.

    Parameters
    ----------
    layer : an ``nn.Module`` (left in the mode ``train`` asks for)
    x : Tensor of shape (N, ...), the input (not modified)
    grad_out : Tensor shaped like the output, or None for all ones

    Returns
    -------
    dict with ``out`` (the output), ``grad_input`` (d loss / d x, None if the output does not
    depend on x through autograd), ``grads`` ({parameter name: grad or None}) and ``buffers``
    ({buffer name: value after the call}), where loss = sum(out * grad_out).
    """
    layer.train(train)
    x = x.detach().clone().requires_grad_(True)
    out = layer(x)
    if out.requires_grad:
        out.backward(torch.ones_like(out) if grad_out is None else grad_out)
    return {"out": out.detach().clone(), "grad_input": x.grad,
            "grads": {name: None if p.grad is None else p.grad.clone()
                      for name, p in layer.named_parameters()},
            "buffers": {name: b.detach().clone() for name, b in layer.named_buffers()}}
