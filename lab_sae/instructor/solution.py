"""Lab: ensembles of top-k sparse autoencoders (SAEs) on MNIST.

You write the parts of a top-k SAE and of an ensemble of them trained together: the top-k
activation, the forward pass, the initialisation and the decoder constraint, the ensemble loss,
the detection and re-initialisation of dead features, and the Pearson correlation used to judge
reconstructions. ``trainer.py`` (given) trains the ensemble with your code.

Shapes: S = number of SAEs, B = batch size, D = 784 pixels, L = number of latents (features).
All S SAEs live in one module as batched tensors, so one ``torch.bmm`` runs all of them.
"""

from __future__ import annotations

import torch
from torch import nn


def topk_activation(pre_acts: torch.Tensor, k: int) -> torch.Tensor:
    """The top-k activation: keep the k largest entries of each row, ReLU them, zero the rest.

    Parameters
    ----------
    pre_acts : Tensor of shape (..., L), the latent pre-activations (any leading dimensions)
    k : int, 1 <= k <= L

    Returns
    -------
    latents : Tensor of the shape and dtype of ``pre_acts``. In each row (last dimension)
        exactly k positions are kept, those of the k largest values, even when values tie
        (``torch.topk`` picks k of the tied ones); a kept position holds ``relu(value)`` (so a
        negative kept value gives 0), every other position holds 0. The gradient reaches
        ``pre_acts`` only at the kept positions. ``pre_acts`` is not modified.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= pre_acts.shape[-1]:
        raise ValueError(f"topk_activation: k must be an integer between 1 and the number of "
                         f"latents {pre_acts.shape[-1]}; received {k!r}.")
    # BEGIN SOLUTION
    values, indices = torch.topk(pre_acts, k, dim=-1)
    return torch.zeros_like(pre_acts).scatter(-1, indices, torch.relu(values))
    # END SOLUTION


class SAEEnsemble(nn.Module):
    """``n_saes`` top-k sparse autoencoders of the same size, as batched parameters.

    For SAE ``s`` and an input row ``x`` (D,)::

        pre_acts = (x - b_pre[s]) @ W_enc[s] + b_enc[s]          # (L,)
        latents  = topk_activation(pre_acts, k)                   # (L,), k non-zeros at most
        recons   = latents @ W_dec[s] + b_pre[s]                  # (D,)

    Parameters (all ``nn.Parameter``)
    ----------
    W_enc : (S, D, L) encoder; column ``W_enc[s, :, j]`` reads feature j from the input
    b_enc : (S, L) latent bias
    W_dec : (S, L, D) decoder; row ``W_dec[s, j]`` is feature j's direction in pixel space (in
        ``nn.Linear``'s layout these are the decoder's columns), kept at unit norm
    b_pre : (S, D) pre-bias: subtracted before the encoder, added back after the decoder
    """

    def __init__(self, n_saes: int, n_inputs: int, n_latents: int, k: int,
                 initialize: bool = True):
        super().__init__()
        for name, value in (("n_saes", n_saes), ("n_inputs", n_inputs),
                            ("n_latents", n_latents), ("k", k)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SAEEnsemble: {name} must be a positive integer; received "
                                 f"{value!r}.")
        if k > n_latents:
            raise ValueError(f"SAEEnsemble: k = {k} active latents cannot exceed n_latents = "
                             f"{n_latents}; lower --k or raise --n_latents.")
        self.n_saes, self.n_inputs, self.n_latents, self.k = n_saes, n_inputs, n_latents, k
        self.W_enc = nn.Parameter(torch.zeros(n_saes, n_inputs, n_latents))
        self.b_enc = nn.Parameter(torch.zeros(n_saes, n_latents))
        self.W_dec = nn.Parameter(torch.zeros(n_saes, n_latents, n_inputs))
        self.b_pre = nn.Parameter(torch.zeros(n_saes, n_inputs))
        if initialize:  # initialize=False leaves zeros, e.g. before loading saved weights
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """Orthogonal, tied initialisation, in place.

        For every SAE s: ``W_dec[s]`` gets orthonormal rows (``nn.init.orthogonal_``; when
        L > D not all rows can be orthogonal, so normalise the rows to unit norm afterwards),
        every SAE a different draw; ``W_enc[s] = W_dec[s].T`` (tied); ``b_enc`` and ``b_pre``
        zero. Random numbers come from torch's global generator (the trainer seeds it).
        """
        # BEGIN SOLUTION
        with torch.no_grad():
            for s in range(self.n_saes):
                nn.init.orthogonal_(self.W_dec[s])
            self.W_dec /= self.W_dec.norm(dim=-1, keepdim=True)
            self.W_enc.copy_(self.W_dec.transpose(1, 2))
            self.b_enc.zero_()
            self.b_pre.zero_()
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode and decode ``x`` with every SAE.

        Parameters
        ----------
        x : Tensor of shape (B, D), one batch given to every SAE

        Returns
        -------
        pre_acts : Tensor of shape (S, B, L), before the top-k activation
        latents : Tensor of shape (S, B, L), ``topk_activation(pre_acts, self.k)``
        recons : Tensor of shape (S, B, D), the reconstructions (``b_pre`` added back)
        """
        # BEGIN SOLUTION
        centred = x.unsqueeze(0) - self.b_pre.unsqueeze(1)
        pre_acts = torch.baddbmm(self.b_enc.unsqueeze(1), centred, self.W_enc)
        latents = topk_activation(pre_acts, self.k)
        recons = torch.baddbmm(self.b_pre.unsqueeze(1), latents, self.W_dec)
        return pre_acts, latents, recons
        # END SOLUTION

    def normalize_decoder_(self) -> None:
        """Rescale every decoder row ``W_dec[s, j]`` to unit L2 norm, in place, without
        recording the operation for autograd. The trainer calls it after every optimiser step.
        """
        # BEGIN SOLUTION
        with torch.no_grad():
            self.W_dec /= self.W_dec.norm(dim=-1, keepdim=True)
        # END SOLUTION


def ensemble_loss(x: torch.Tensor, recons: torch.Tensor, consistency_weight: float
                  ) -> dict[str, torch.Tensor]:
    """The training loss of the ensemble: reconstruction plus consistency between SAEs.

    Parameters
    ----------
    x : Tensor of shape (B, D), the inputs
    recons : Tensor of shape (S, B, D), each SAE's reconstruction of ``x``
    consistency_weight : float >= 0

    Returns
    -------
    dict of tensors:
        ``"mse"`` (S,): each SAE's mean squared error over the batch and the pixels;
        ``"consistency"`` (S,): the mean squared difference, over the batch and the pixels,
        between each SAE's reconstruction and the ensemble's mean reconstruction
        ``recons.mean(0)`` (detaching the mean is fine: the gradient of the sum is the same);
        ``"ensemble_mse"`` (): the mean squared error of the mean reconstruction;
        ``"loss"`` (): ``mse.sum() + consistency_weight * consistency.sum()``, what the trainer
        minimises (each SAE gets the gradient of its own terms).
    """
    # BEGIN SOLUTION
    mean_recons = recons.mean(dim=0)
    mse = (recons - x.unsqueeze(0)).square().mean(dim=(1, 2))
    consistency = (recons - mean_recons.detach().unsqueeze(0)).square().mean(dim=(1, 2))
    ensemble_mse = (mean_recons - x).square().mean()
    loss = mse.sum() + consistency_weight * consistency.sum()
    return {"loss": loss, "mse": mse, "consistency": consistency, "ensemble_mse": ensemble_mse}
    # END SOLUTION


def update_steps_since_fired(steps_since_fired: torch.Tensor, latents: torch.Tensor
                             ) -> torch.Tensor:
    """Dead-feature bookkeeping after one training step.

    Parameters
    ----------
    steps_since_fired : LongTensor of shape (S, L), training steps since each feature last
        fired (was non-zero for at least one input of a batch)
    latents : Tensor of shape (S, B, L), the latents of this step's batch

    Returns
    -------
    LongTensor of shape (S, L): 0 for the features that fired in this batch, the old count + 1
    for the others. ``steps_since_fired`` is not modified. The trainer calls a feature dead
    once its count reaches the dead-feature window.
    """
    # BEGIN SOLUTION
    fired = (latents != 0).any(dim=1)
    return torch.where(fired, torch.zeros_like(steps_since_fired), steps_since_fired + 1)
    # END SOLUTION


def reinit_dead_features_(model: SAEEnsemble, optimizer: torch.optim.Adam, x: torch.Tensor,
                          dead: torch.Tensor) -> int:
    """Re-initialise the dead features toward the inputs that are reconstructed worst.

    For each SAE s, rank the inputs ``x`` by SAE s's squared reconstruction error
    ``||x_n - recons[s, n]||^2``, worst first. Its dead features, in increasing index order,
    take the inputs in that order (the 1st dead feature the worst input, the 2nd the next one,
    ...; start again at the worst when there are more dead features than inputs). For dead
    feature j of SAE s given input ``x_n``, with ``u = (x_n - b_pre[s]) / ||x_n - b_pre[s]||``:

    * ``W_dec[s, j] = u`` (a unit-norm decoder row);
    * ``W_enc[s, :, j] = 0.2 * a * u``, where ``a`` is the mean L2 norm of the encoder columns
      ``W_enc[s, :, i]`` of SAE s's live features (1.0 when SAE s has none);
    * ``b_enc[s, j] = 0``;
    * the optimiser's Adam moments (``exp_avg`` and ``exp_avg_sq`` in ``optimizer.state[p]``)
      of exactly those entries are set to 0 (when the optimiser has state for ``p`` yet).

    Nothing else changes: not ``b_pre``, not the live features, not their optimiser state.

    Parameters
    ----------
    model : SAEEnsemble
    optimizer : torch.optim.Adam over ``model.parameters()``
    x : Tensor of shape (N, D), inputs to choose from (a batch of training images)
    dead : BoolTensor of shape (S, L), True for the features to re-initialise

    Returns
    -------
    int, the number of features re-initialised (``dead.sum()``)
    """
    # BEGIN SOLUTION
    with torch.no_grad():
        _, _, recons = model(x)
        errors = (recons.float() - x.unsqueeze(0)).square().sum(dim=-1)  # (S, N)
        for s in range(model.n_saes):
            features = torch.nonzero(dead[s]).flatten()
            if len(features) == 0:
                continue
            order = torch.argsort(errors[s], descending=True, stable=True)
            chosen = x[order[torch.arange(len(features)) % len(order)]]
            centred = chosen - model.b_pre[s]
            u = centred / centred.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            alive = ~dead[s]
            scale = model.W_enc[s][:, alive].norm(dim=0).mean() if alive.any() else 1.0
            model.W_dec[s, features] = u
            model.W_enc[s][:, features] = 0.2 * scale * u.T
            model.b_enc[s, features] = 0.0
            for param, index in ((model.W_dec, (s, features)),
                                 (model.W_enc, (s, slice(None), features)),
                                 (model.b_enc, (s, features))):
                state = optimizer.state.get(param, {})
                for moment in ("exp_avg", "exp_avg_sq"):
                    if moment in state:
                        state[moment][index] = 0.0
        return int(dead.sum())
    # END SOLUTION


def pearson_correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between matching rows of ``x`` and ``y``.

    Parameters
    ----------
    x, y : Tensors of the same shape (..., D), e.g. images (N, 784) and their reconstructions

    Returns
    -------
    Tensor of shape (...), dtype float64: the correlation of each row of ``x`` with the same
    row of ``y``, equal to ``np.corrcoef(x_row, y_row)[0, 1]`` to 1e-6 even when a row is
    nearly constant (compute in float64, centre each row before multiplying). A row in which
    ``x`` or ``y`` is exactly constant has no defined correlation (numpy gives NaN): return
    0.0 there. Never NaN.
    """
    # BEGIN SOLUTION
    x = x.detach().to(torch.float64)
    y = y.detach().to(torch.float64)
    xc = x - x[..., :1]  # exactly 0 for a constant row; then centring cannot leave rounding noise
    yc = y - y[..., :1]
    xc = xc - xc.mean(dim=-1, keepdim=True)
    yc = yc - yc.mean(dim=-1, keepdim=True)
    denominator = torch.sqrt(xc.square().sum(dim=-1) * yc.square().sum(dim=-1))
    numerator = (xc * yc).sum(dim=-1)
    defined = denominator > 0
    r = numerator / torch.where(defined, denominator, torch.ones_like(denominator))
    return torch.where(defined, r.clamp(-1.0, 1.0), torch.zeros_like(r))
    # END SOLUTION
