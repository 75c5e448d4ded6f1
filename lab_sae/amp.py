"""Mixed precision for an ensemble whose SAEs share batched parameters: one loss scaler per SAE.

``torch.amp.GradScaler`` keeps one scale per optimiser. Here the S SAEs live in the same
(S, ...) tensors under one optimiser, yet each SAE should keep its own scale: an overflow in one
SAE must not skip the step of the others, nor shrink their scale. :class:`PerSAEGradScaler`
applies GradScaler's rule to each SAE separately:

* each SAE's loss is multiplied by its own scale before ``backward`` (the loss of SAE s reaches
  only SAE s's slice of the parameters, see ``ensemble_loss``);
* the gradients are divided back, SAE by SAE, and checked for inf/NaN;
* an SAE with a non-finite gradient skips the step (its parameters and Adam moments are kept)
  and halves its scale; an SAE with ``growth_interval`` finite steps in a row doubles it.
"""

from __future__ import annotations

import torch
from torch import nn


def _per_sae(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``values`` (S,) shaped to broadcast against ``like`` (S, ...)."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class PerSAEGradScaler:
    """Dynamic loss scaling with one scale per SAE (GradScaler's defaults).

    Parameters
    ----------
    n_saes : int, the size S of the leading dimension of every parameter
    device : where the scales live (the model's device)
    """

    def __init__(self, n_saes: int, device: torch.device | str = "cpu",
                 init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000):
        self.scale = torch.full((n_saes,), float(init_scale), device=device)
        self.growth_tracker = torch.zeros(n_saes, dtype=torch.int64, device=device)
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = growth_interval
        self.skipped = torch.zeros(n_saes, dtype=torch.int64, device=device)

    def scale_losses(self, per_sae_losses: torch.Tensor) -> torch.Tensor:
        """The scalar to call ``backward`` on: ``sum_s scale[s] * per_sae_losses[s]``."""
        return (per_sae_losses.float() * self.scale).sum()

    def unscale_(self, params: list[nn.Parameter]) -> torch.Tensor:
        """Divide each SAE's gradients by its scale; return found_inf, a BoolTensor (S,)."""
        found_inf = torch.zeros_like(self.scale, dtype=torch.bool)
        for p in params:
            if p.grad is None:
                continue
            p.grad.div_(_per_sae(self.scale, p.grad))
            found_inf |= ~torch.isfinite(p.grad).flatten(1).all(dim=1)
        return found_inf

    def step(self, optimizer: torch.optim.Optimizer, params: list[nn.Parameter]) -> torch.Tensor:
        """Unscale, step the SAEs whose gradients are finite, update the scales.

        Returns found_inf (S,): True for the SAEs that skipped this step.
        """
        found_inf = self.unscale_(params)
        if bool(found_inf.any()):
            kept = []
            for p in params:
                state = optimizer.state.get(p, {})
                moments = {name: state[name][found_inf].clone() for name in
                           ("exp_avg", "exp_avg_sq") if name in state}
                kept.append((p, p.detach()[found_inf].clone(), moments))
                if p.grad is not None:
                    p.grad[found_inf] = 0.0
            optimizer.step()
            with torch.no_grad():
                for p, data, moments in kept:
                    p[found_inf] = data
                    for name, value in moments.items():
                        optimizer.state[p][name][found_inf] = value
        else:
            optimizer.step()
        self.update(found_inf)
        return found_inf

    def update(self, found_inf: torch.Tensor) -> None:
        """Halve the scale of the SAEs that overflowed; double it after ``growth_interval``
        finite steps in a row."""
        self.skipped += found_inf.long()
        self.growth_tracker = torch.where(found_inf, torch.zeros_like(self.growth_tracker),
                                          self.growth_tracker + 1)
        grow = self.growth_tracker >= self.growth_interval
        factor = torch.where(found_inf, torch.full_like(self.scale, self.backoff_factor),
                             torch.where(grow, torch.full_like(self.scale, self.growth_factor),
                                         torch.ones_like(self.scale)))
        self.scale = self.scale * factor
        self.growth_tracker = torch.where(grow, torch.zeros_like(self.growth_tracker),
                                          self.growth_tracker)
