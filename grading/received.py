"""Checks of what comes back from the sandbox, run in the grader before it computes with it.

Everything the worker returns is chosen by the submission's code. Before any arithmetic,
broadcasting, allocation, metric or model evaluation here, a value must be exactly a plain
tensor or ndarray (no subclass) of the expected dtype and shape (or, where the shape is not
known, of a bounded size), and finite: a (20000, 1, 1) array where (N,) was expected fails at
once with a reason, instead of broadcasting into gigabytes.

The hidden tests of the torch labs import :func:`returned`, :func:`number` and
:func:`describe` from here (``from grading.received import returned``); they run in the grader,
never in the sandbox.
"""

from __future__ import annotations

import math

import numpy as np
import torch

KINDS = {"tensor": torch.Tensor, "ndarray": np.ndarray}
DTYPE_GROUPS = ("float", "int", "bool")


def describe(value) -> str:
    """What ``value`` is, from its type and metadata only (no arithmetic, no student code)."""
    kind = type(value)
    if kind is torch.Tensor or kind is np.ndarray:
        word = "a tensor" if kind is torch.Tensor else "an ndarray"
        return f"{word} of shape {tuple(value.shape)} and dtype {value.dtype}"
    if kind in (list, tuple):
        return f"a {kind.__name__} of {len(value)} item(s)"
    if value is None:
        return "None"
    if kind in (int, float, bool):
        return f"the {kind.__name__} {value!r}"
    return f"a {kind.__name__}" if kind.__module__ == "builtins" else \
        f"a {kind.__module__}.{kind.__qualname__}"


def _dtype_ok(dtype, wanted) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, str):
        if isinstance(dtype, torch.dtype):
            return {"float": dtype.is_floating_point,
                    "int": not dtype.is_floating_point and not dtype.is_complex
                    and dtype != torch.bool,
                    "bool": dtype == torch.bool}[wanted]
        kind = np.dtype(dtype).kind
        return {"float": kind == "f", "int": kind in "iu", "bool": kind == "b"}[wanted]
    options = wanted if isinstance(wanted, tuple) else (wanted,)
    return any(dtype == option for option in options)


def _shape_text(shape) -> str:
    parts = ["?" if d is None else str(d) for d in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def returned(value, name: str, *, kind: str = "tensor", dtype="float", shape=None,
             max_size: int | None = None, finite: bool = True, hint: str = ""):
    """``value``, once checked; else AssertionError saying what came back and what was expected.

    Parameters
    ----------
    value : anything the worker returned
    name : str
        What the student calls it (``"the hypergradient"``, ``"hessian_vector_product"``).
    kind : {"tensor", "ndarray"}
        Exactly ``torch.Tensor`` or ``np.ndarray``; subclasses are refused.
    dtype : "float", "int", "bool", a torch / numpy dtype, a tuple of dtypes, or None (any)
    shape : tuple of int or None, optional
        The exact shape; a None entry leaves that axis free (then ``max_size`` bounds the size).
    max_size : int, optional
        Upper bound on the number of entries (required in spirit where ``shape`` is not exact).
    finite : bool
        Refuse NaN and infinity (checked last, once the size is known to be bounded).
    hint : str
        What to try, appended to the message.
    """
    expected_type = KINDS[kind]
    what = "an ndarray" if kind == "ndarray" else "a tensor"
    if shape is not None:
        what += f" of shape {_shape_text(shape)}"
    if isinstance(dtype, str):
        what += f" of {dtype} dtype"
    elif dtype is not None:
        what += f" of dtype {dtype}"
    tail = f" {hint}" if hint else ""
    if type(value) is not expected_type:
        raise AssertionError(f"{name} must be {what}; received {describe(value)}.{tail}")
    got = tuple(int(d) for d in value.shape)
    if shape is not None:
        fits = len(got) == len(shape) and all(w is None or g == w
                                              for g, w in zip(got, shape, strict=False))
        if not fits:
            raise AssertionError(f"{name} must be {what}; received shape {got}. Check for a "
                                 f"missing or extra axis (reshape, squeeze).{tail}")
    size = math.prod(got)
    if max_size is not None and size > max_size:
        raise AssertionError(f"{name} must have at most {max_size} entries; received shape "
                             f"{got} ({size} entries).{tail}")
    if not _dtype_ok(value.dtype, dtype):
        raise AssertionError(f"{name} must be {what}; received dtype {value.dtype}.{tail}")
    if finite:
        values = value.detach() if kind == "tensor" else value
        ok = bool(torch.isfinite(values).all()) if kind == "tensor" else bool(
            np.isfinite(values).all()) if values.dtype.kind in "fc" else True
        if not ok:
            bad = int((~torch.isfinite(values)).sum()) if kind == "tensor" else int(
                (~np.isfinite(values)).sum())
            raise AssertionError(f"{name} holds {bad} NaN or infinite value(s) out of {size}: "
                                 f"look for a division by zero or an overflow.{tail}")
    return value


def number(value, name: str, *, finite: bool = True, hint: str = "") -> float:
    """A Python float from a returned scalar: an int or float, a numpy scalar, or a one-element
    plain tensor / ndarray; else AssertionError naming what came back."""
    kind = type(value)
    if kind in (int, float) or (isinstance(value, np.generic) and kind.__module__ == "numpy"
                                and np.dtype(kind).kind in "iuf"):
        result = float(value)
    elif kind in (torch.Tensor, np.ndarray) and math.prod(value.shape) == 1 and (
            _dtype_ok(value.dtype, "float") or _dtype_ok(value.dtype, "int")):
        result = float(value.reshape(-1)[0])
    else:
        raise AssertionError(f"{name} must be a single number (a float, or a tensor with one "
                             f"element); received {describe(value)}.{' ' + hint if hint else ''}")
    if finite and not math.isfinite(result):
        raise AssertionError(f"{name} is {result}: it must be finite.{' ' + hint if hint else ''}")
    return result
