"""Hyperparameter-optimisation models: a network, its losses, and the hyperparameters.

``BaseHyperOptModel(network, criterion)`` holds a network and a criterion; a subclass says which
tensors are its hyperparameters (``hyper_parameters``) and how they enter the training loss.
``DataSelectionHyperOptModel`` learns one log-weight per training sample: its training loss is
your ``weighted_train_loss`` of the per-sample losses of a batch.

``parameters`` and ``hyper_parameters`` are *properties* returning lists of tensors (as in the
framework this lab follows), so ``model.parameters`` has no parentheses here.
"""

from __future__ import annotations

import math

import torch
from submission import weighted_train_loss
from torch import nn


class BaseHyperOptModel(nn.Module):
    """A network and its criterion; subclasses define ``hyper_parameters``.

    Parameters
    ----------
    network : nn.Module
        Maps inputs (B, ...) to logits (B, C).
    criterion : callable (logits, targets) -> losses
        With ``reduction="none"`` (one loss per sample), e.g.
        ``nn.CrossEntropyLoss(reduction="none")``.
    """

    def __init__(self, network: nn.Module, criterion) -> None:
        super().__init__()
        self.network = network
        self.criterion = criterion

    @property
    def parameters(self) -> list[torch.Tensor]:  # type: ignore[override]
        """The network's weights w, as a list."""
        return list(self.network.parameters())

    @property
    def hyper_parameters(self) -> list[torch.Tensor]:
        raise NotImplementedError("a subclass of BaseHyperOptModel defines its hyper_parameters")

    def per_sample_losses(self, x: torch.Tensor, y: torch.Tensor):
        """(losses (B,), logits (B, C)) of the network on a batch."""
        logits = self.network(self.data_augment(x, y))
        losses = self.criterion(logits, y)
        if losses.ndim != 1:
            raise ValueError(f"the criterion must return one loss per sample (shape (B,)); it "
                             f"returned shape {tuple(losses.shape)}. Build it with "
                             "reduction='none'.")
        return losses, logits

    def train_loss(self, x: torch.Tensor, y: torch.Tensor):
        """(mean loss + regularizer, logits) on a training batch."""
        losses, logits = self.per_sample_losses(x, y)
        return losses.mean() + self.regularizer(), logits

    def validation_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mean loss on validation inputs: a scalar tensor."""
        return self.criterion(self.network(x), y).mean()

    def data_augment(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Override to augment the training inputs; identity here."""
        return x

    def regularizer(self):
        """Override to add a penalty to the training loss; zero here."""
        return 0.0


class DataSelectionHyperOptModel(BaseHyperOptModel):
    """One learned weight per training sample, stored as a log-weight.

    Parameters
    ----------
    network, criterion : see :class:`BaseHyperOptModel`.
    num_train_samples : int
        N, the size of the training set; samples are addressed by their index 0 .. N-1.
    initial_weight : float > 0, default 1.0
        Every log-weight starts at log(initial_weight). Only differences of log-weights
        matter (the weights are normalised over each batch), so the value is a convention.
    """

    def __init__(self, network: nn.Module, criterion, num_train_samples: int,
                 initial_weight: float = 1.0) -> None:
        super().__init__(network, criterion)
        if isinstance(num_train_samples, bool) or not isinstance(num_train_samples, int) or (
                num_train_samples < 1):
            raise ValueError(f"num_train_samples must be a positive integer; received "
                             f"{num_train_samples!r}.")
        if not initial_weight > 0:
            raise ValueError(f"initial_weight must be > 0 (it is stored as its log); received "
                             f"{initial_weight!r}.")
        self.num_train_samples = num_train_samples
        self.log_weights = nn.Parameter(torch.full((num_train_samples,),
                                                   math.log(initial_weight)))

    @property
    def hyper_parameters(self) -> list[torch.Tensor]:
        return [self.log_weights]

    @property
    def sample_weights(self) -> nn.Parameter:
        """The original assignment's name of ``log_weights``: the same parameter (N,), in log
        space despite its name. Read-only: to change the log-weights, write into them in place
        (``model.sample_weights.data.clamp_(-2, 2)``)."""
        return self.log_weights

    def __setattr__(self, name: str, value) -> None:
        if name == "sample_weights":
            raise AttributeError("sample_weights is the original assignment's name of "
                                 "log_weights and cannot be assigned; received an assignment "
                                 f"of {type(value).__name__}. Change the log-weights in place "
                                 "(model.log_weights.data.copy_(...)).")
        super().__setattr__(name, value)

    def get_sample_weights(self) -> torch.Tensor:
        """The weights of all N samples, normalised to mean 1 (uniform weights are all 1).

        Returns
        -------
        weights : tensor of shape (N,), detached.
        """
        with torch.no_grad():
            return torch.softmax(self.log_weights, dim=0) * self.num_train_samples

    def train_loss(self, x: torch.Tensor, y: torch.Tensor, sample_indices=None):
        """(weighted loss, logits) of a training batch.

        Parameters
        ----------
        x : tensor of shape (B, ...)
        y : tensor of shape (B,)
        sample_indices : tensor of shape (B,), int64, optional
            The training-set indices of the batch's samples (default 0 .. B-1).
        """
        if sample_indices is None:
            sample_indices = torch.arange(len(x), device=x.device)
        sample_indices = torch.as_tensor(sample_indices, device=self.log_weights.device)
        if sample_indices.shape != (len(x),):
            raise ValueError(f"sample_indices must have shape ({len(x)},), one index per "
                             f"sample; received {tuple(sample_indices.shape)}.")
        losses, logits = self.per_sample_losses(x, y)
        loss = weighted_train_loss(losses, self.log_weights[sample_indices])
        return loss + self.regularizer(), logits
