"""Small experiments on your functions, used by the tests (public and graded) and grade.py.

Each one runs your code from ``submission.py`` and returns plain tensors, so that a test can
look at gradients and optimiser state without reaching into your objects.
"""

from __future__ import annotations

import torch
from submission import ensemble_loss, topk_activation, update_steps_since_fired


def topk_input_gradient(pre_acts: torch.Tensor, k: int, upstream: torch.Tensor) -> torch.Tensor:
    """d/d pre_acts of ``(topk_activation(pre_acts, k) * upstream).sum()``, shape of pre_acts
    (zeros where no gradient arrives)."""
    x = pre_acts.detach().clone().requires_grad_(True)
    out = topk_activation(x, k)
    (out * upstream).sum().backward()
    return x.grad if x.grad is not None else torch.zeros_like(x)


def loss_gradient(x: torch.Tensor, recons: torch.Tensor, consistency_weight: float
                  ) -> torch.Tensor:
    """d/d recons of ``ensemble_loss(x, recons, consistency_weight)["loss"]``, (S, B, D)."""
    r = recons.detach().clone().requires_grad_(True)
    ensemble_loss(x, r, consistency_weight)["loss"].backward()
    return r.grad if r.grad is not None else torch.zeros_like(r)


def step_values(x: torch.Tensor, pre_acts: torch.Tensor, k: int, W_dec: torch.Tensor,
                b_pre: torch.Tensor, consistency_weight: float, steps_since_fired: torch.Tensor
                ) -> dict[str, torch.Tensor]:
    """What your functions give in one training step of the SAEs, in one call (the graded run
    asks for it at every step, and checks it against separate calls at steps of its choosing).

    Parameters
    ----------
    x : (B, D) batch; pre_acts : (S, B, L); W_dec : (S, L, D); b_pre : (S, D);
    steps_since_fired : (S, L) counter before the step

    Returns
    -------
    dict with ``latents`` = ``topk_activation(pre_acts, k)`` (S, B, L); ``g_recons``, the
    gradient of ``ensemble_loss(x, recons, consistency_weight)["loss"]`` at
    ``recons = latents W_dec + b_pre`` (S, B, D); ``g_pre`` = ``topk_input_gradient(pre_acts, k,
    g_recons W_dec^T)`` (S, B, L); ``counter`` = ``update_steps_since_fired(steps_since_fired,
    latents)`` (S, L). It stops after the first value that is not a tensor of the expected
    shape (what follows cannot be computed from it) and returns what it has.
    """
    latents = topk_activation(pre_acts, k)
    values = {"latents": latents}
    if not _is_tensor(latents, pre_acts.shape, (pre_acts.dtype,)):
        return values
    recons = torch.baddbmm(b_pre.unsqueeze(1), latents, W_dec)
    values["g_recons"] = g_recons = loss_gradient(x, recons, consistency_weight)
    if not _is_tensor(g_recons, recons.shape, (torch.float32, torch.float64)):
        return values
    g_latents = torch.bmm(g_recons.float(), W_dec.transpose(1, 2))
    values["g_pre"] = topk_input_gradient(pre_acts, k, g_latents)
    values["counter"] = update_steps_since_fired(steps_since_fired.clone(), latents)
    return values


def _is_tensor(value, shape, dtypes) -> bool:
    return isinstance(value, torch.Tensor) and value.shape == shape and value.dtype in dtypes


def parameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the model's parameters by name (W_enc, b_enc, W_dec, b_pre)."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def adam_moments(optimizer: torch.optim.Optimizer, model: torch.nn.Module
                 ) -> dict[str, dict[str, torch.Tensor]]:
    """Copies of Adam's ``exp_avg`` and ``exp_avg_sq`` of each parameter, by parameter name
    (an empty dict for a parameter without optimiser state yet)."""
    moments = {}
    for name, p in model.named_parameters():
        state = optimizer.state.get(p, {})
        moments[name] = {key: state[key].detach().clone() for key in ("exp_avg", "exp_avg_sq")
                         if key in state}
    return moments


def adam_steps(model: torch.nn.Module, x: torch.Tensor, steps: int, lr: float = 1e-2,
               batch_size: int = 64) -> torch.optim.Adam:
    """Train ``model`` for ``steps`` Adam steps on the plain MSE of its reconstructions of
    batches of ``x`` (N, D), calling ``model.normalize_decoder_()`` after each step as the
    trainer does; return the optimiser (with its state)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    for step in range(steps):
        rows = torch.arange(step * batch_size, (step + 1) * batch_size) % len(x)
        batch = x[rows]
        _, _, recons = model(batch)
        optimizer.zero_grad()
        (recons - batch).square().mean().backward()
        optimizer.step()
        model.normalize_decoder_()
    return optimizer
