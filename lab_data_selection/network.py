"""The networks of the lab: ``SimpleModel`` (one hidden layer) and ``MLP`` (any depth).

Both take images of shape (B, *input_shape) (or already flat rows (B, prod(input_shape))) and
return logits of shape (B, num_classes).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def _check_positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; received {value!r}.")
    return value


def _activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; received {name!r}.")
    return ACTIVATIONS[name]


class SimpleModel(nn.Module):
    """784 -> hidden -> 10: flatten, one hidden layer, logits.

    Parameters
    ----------
    input_shape : tuple of int, default (28, 28)
    hidden : int, default 64
    num_classes : int, default 10
    activation : {"relu", "tanh"}, default "relu"
    """

    def __init__(self, input_shape=(28, 28), hidden: int = 64, num_classes: int = 10,
                 activation: str = "relu"):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        n_in = math.prod(self.input_shape)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(n_in, _check_positive("hidden", hidden)),
                                 _activation(activation)(),
                                 nn.Linear(hidden, _check_positive("num_classes", num_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x : tensor of shape (B, *input_shape) or (B, prod(input_shape)) -> logits (B, C)."""
        return self.net(x)


class MLP(nn.Module):
    """``num_layers`` linear layers: in -> inter_dim -> ... -> inter_dim -> num_classes.

    ``num_layers=1`` is softmax regression (a single linear layer, no activation).

    Parameters
    ----------
    num_layers : int, default 3
    input_shape : tuple of int, default (28, 28)
    inter_dim : int, default 128
    num_classes : int, default 10
    activation : {"relu", "tanh"}, default "relu"
    """

    def __init__(self, num_layers: int = 3, input_shape=(28, 28), inter_dim: int = 128,
                 num_classes: int = 10, activation: str = "relu"):
        super().__init__()
        _check_positive("num_layers", num_layers)
        self.input_shape = tuple(int(s) for s in input_shape)
        widths = [math.prod(self.input_shape)] + [_check_positive("inter_dim", inter_dim)] * (
            num_layers - 1) + [_check_positive("num_classes", num_classes)]
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            if i > 0:
                layers.append(_activation(activation)())
            layers.append(nn.Linear(n_in, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x : tensor of shape (B, *input_shape) or (B, prod(input_shape)) -> logits (B, C)."""
        return self.net(x)


NETWORKS = {"simple": SimpleModel, "mlp": MLP}


def build_network(name: str, **kwargs) -> nn.Module:
    """``build_network("simple")`` or ``build_network("mlp", num_layers=3)``."""
    if name not in NETWORKS:
        raise ValueError(f"network must be one of {sorted(NETWORKS)}; received {name!r}.")
    return NETWORKS[name](**kwargs)


def network_logits(name: str, state: dict, inputs: torch.Tensor) -> np.ndarray:
    """Logits (M, C), float64, of ``build_network(name)`` with the parameters ``state`` (a state
    dict, e.g. from a graded run) on ``inputs`` (M, ...), already normalised.

    Raises ValueError naming what does not fit when ``state`` is not a complete, finite state
    dict of that network.
    """
    network = build_network(name)
    expected = {key: tuple(v.shape) for key, v in network.state_dict().items()}
    if not isinstance(state, dict):
        raise ValueError(f"the network must be a dict of tensors {expected}; received "
                         f"{type(state).__name__}.")
    received = {key: tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
                for key, v in state.items()}
    if received != expected:
        raise ValueError(f"the network must be a state dict of build_network({name!r}), "
                         f"tensors {expected}; received {received}.")
    if not all(bool(torch.isfinite(v).all()) for v in state.values()):
        raise ValueError("the network holds NaN or infinite parameters: the hypergradients "
                         "probably blew the weights or the network up.")
    network.load_state_dict({key: v.float() for key, v in state.items()})
    network.eval()
    with torch.no_grad():
        return network(inputs).double().numpy()
