"""Checks of the raw parts of a decoded message that every codec shares (the wire's own numpy
codec and :mod:`grading.rpc.codec_torch`): its error type, shapes and bool bytes."""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_NDIM = 64


class WireError(Exception):
    """A malformed, oversized or disallowed message."""


def shape_of(raw: Any) -> tuple[int, ...]:
    """Validate a shape from a header: a list of at most MAX_NDIM ints in [0, 2**62)."""
    if type(raw) is not list or len(raw) > MAX_NDIM:
        raise WireError(f"shape must be a list of at most {MAX_NDIM} ints")
    for d in raw:
        if type(d) is not int or not 0 <= d < 1 << 62:
            raise WireError(f"bad dimension {str(d)[:40]} in shape (must be an int >= 0)")
    return tuple(raw)


def check_bool(u8: np.ndarray) -> None:
    """Refuse bool data with bytes other than 0/1 (numpy and torch misbehave on them)."""
    if u8.size and int(u8.max()) > 1:
        raise WireError("bool data holds bytes other than 0 and 1")
