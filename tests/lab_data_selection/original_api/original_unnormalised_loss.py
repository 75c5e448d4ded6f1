# The original's weighted loss, mean(exp(sample_weights) * losses): not normalised over the batch.
# (appended to original_names.py: its definitions replace those there)

import torch


def weighted_train_loss(per_sample_losses, sample_weights):
    """As in original_names.py (its docstring there)."""
    if not (isinstance(per_sample_losses, torch.Tensor) and isinstance(sample_weights, torch.Tensor)
            and per_sample_losses.ndim == 1 and per_sample_losses.shape == sample_weights.shape
            and len(sample_weights) > 0):
        describe = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                    for t in (per_sample_losses, sample_weights)]
        raise ValueError("per_sample_losses and sample_weights must be tensors of the same shape "
                         f"(B,) with B >= 1; received {describe[0]} and {describe[1]}. Compute "
                         "the losses with reduction='none' and index sample_weights by the batch.")
        # as the original's DataSelectionHyperOptModel.train_loss: exp(sample_weights), mean
    current_weights = torch.exp(sample_weights)
    return torch.mean(per_sample_losses * current_weights)
