"""Input checks with messages that say what was received, what was expected and what to try.

Used by the labs' fixed code and by the given parts of `submission.py`. Never `assert`:
assertions vanish under ``python -O`` and their messages are terse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

# An expected shape: a tuple whose entries are ints (exact size), None (any size) or a
# str (a named size that must agree everywhere it appears, e.g. ("N", "D")).
ShapeSpec = Sequence[int | str | None]


def _describe(value: Any) -> str:
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r:.80}"


def check_shape(
    name: str, array: Any, expected: ShapeSpec, sizes: dict[str, int] | None = None
) -> dict[str, int]:
    """Check that ``array`` has the ``expected`` shape and return the named sizes it fixed.

    Parameters
    ----------
    name : str
        The argument's name, as the user knows it (``"X"``, ``"gamma"``).
    array : ndarray or torch.Tensor
        Anything with a ``.shape``.
    expected : sequence of int | str | None
        ``(None, 784)`` means any rows and 784 columns; ``("N", "K")`` binds N and K.
    sizes : dict, optional
        Named sizes already known (from an earlier check); updated and returned.

    Raises
    ------
    ValueError
        When the rank or a dimension differs, naming both shapes.
    TypeError
        When ``array`` has no shape at all.
    """
    sizes = {} if sizes is None else sizes
    if not hasattr(array, "shape"):
        raise TypeError(
            f"{name} must be an array with shape {_format_spec(expected)}; "
            f"received {_describe(array)}. Convert it with np.asarray({name})."
        )
    shape = tuple(int(d) for d in array.shape)
    if len(shape) != len(expected):
        raise ValueError(
            f"{name} must have {len(expected)} dimension(s) {_format_spec(expected)}; "
            f"received shape {shape}. Check for a missing or extra axis "
            f"(reshape, [None], or squeeze)."
        )
    for axis, (got, want) in enumerate(zip(shape, expected, strict=True)):
        if want is None:
            continue
        if isinstance(want, str):
            bound = sizes.setdefault(want, got)
            if bound != got:
                raise ValueError(
                    f"{name} has {got} along axis {axis} ({want}), but {want} = {bound} "
                    f"elsewhere; received shape {shape}, expected {_format_spec(expected)} "
                    f"with {want} = {bound}."
                )
        elif got != want:
            raise ValueError(
                f"{name} must have shape {_format_spec(expected)}; received shape {shape} "
                f"(axis {axis} is {got}, expected {want})."
            )
    return sizes


def _format_spec(expected: ShapeSpec) -> str:
    parts = ["?" if d is None else str(d) for d in expected]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def check_finite(name: str, array: Any) -> None:
    """Raise ValueError if ``array`` holds NaN or infinity, counting the bad entries."""
    values = np.asarray(array.detach().cpu() if hasattr(array, "detach") else array)
    if values.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"{name} must be finite; received {int(bad.sum())} NaN/inf value(s) out of "
            f"{values.size}. Look for a division by zero, a log of 0, or an overflow "
            f"(work in log space)."
        )


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise ValueError if ``value`` is not one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {options}; received {value!r}.")


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer; received {_describe(value)}.")
    return int(value)
