"""Torch tensors and dtypes on the wire. ``wire`` imports this lazily, only when a torch value
is sent or received, so the wire format works in processes without torch."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from grading.rpc.wire_values import WireError, check_bool, shape_of

_ALLOWED = (
    "bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
)
DTYPES: dict[str, torch.dtype] = {
    name: getattr(torch, name) for name in _ALLOWED
    if isinstance(getattr(torch, name, None), torch.dtype)
}
_NAMES = {dtype: name for name, dtype in DTYPES.items()}


def _name(dtype: torch.dtype) -> str:
    name = _NAMES.get(dtype)
    if name is None:
        raise WireError(f"torch dtype {dtype} cannot be sent; allowed: {', '.join(DTYPES)}")
    return name


def encode(v: torch.Tensor | torch.dtype, add_buffer: Callable[[Any], int]) -> dict:
    """Header node for a tensor (plain CPU C-order data, requires_grad kept) or a dtype."""
    if type(v) is torch.dtype:
        return {"$": "torchdtype", "v": _name(v)}
    requires_grad, name = bool(v.requires_grad), _name(v.dtype)
    try:
        t = v.detach()
        if type(t) is not torch.Tensor:  # Parameter and other subclasses: plain data only
            t = t.as_subclass(torch.Tensor)
        if t.layout != torch.strided:
            t = t.to_dense()
        t = t.cpu().resolve_conj().resolve_neg().contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy()
    except (RuntimeError, TypeError, ValueError) as exc:
        raise WireError(f"cannot send a tensor of dtype {name}: {exc}") from None
    if name == "bool" and data.size and data.max() > 1:
        data = (data != 0).view(np.uint8)
    return {"$": "tensor", "dtype": name, "shape": list(t.shape), "grad": requires_grad,
            "b": add_buffer(data)}


def decode(node: dict, take: Callable[[Any, int], np.ndarray]) -> torch.Tensor:
    """A plain tensor from a (field-checked) ``tensor`` node; ``take`` fetches its buffer."""
    name, shape, grad = node["dtype"], shape_of(node["shape"]), node["grad"]
    dtype = DTYPES.get(name) if type(name) is str else None
    if dtype is None:
        raise WireError(f"torch dtype {str(name)[:40]!r} is not allowed")
    if type(grad) is not bool or (grad and not (dtype.is_floating_point or dtype.is_complex)):
        raise WireError(f"bad requires_grad {str(grad)[:10]} for a {name} tensor")
    u8 = take(node["b"], math.prod(shape) * dtype.itemsize)
    if dtype is torch.bool:
        check_bool(u8)
    try:
        if u8.size == 0:  # from_numpy gives empty arrays stride 0, which view() refuses
            t = torch.empty(shape, dtype=dtype)
        else:
            t = torch.from_numpy(u8).view(dtype).reshape(shape)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise WireError(f"cannot build a tensor of shape {list(shape)}: {exc}") from None
    return t.requires_grad_(True) if grad else t
