"""Progress bars (tqdm) that behave in a terminal, in a log file and inside the grader."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_disabled() -> bool:
    """Bars are off when ``LABS_NO_PROGRESS=1`` (the grader sets it), or in CI without a TTY."""
    if os.environ.get("LABS_NO_PROGRESS") == "1":
        return True
    return bool(os.environ.get("CI")) and not sys.stderr.isatty()


def progress(iterable: Iterable[T] | None = None, desc: str = "", total: int | None = None,
             unit: str = "it", leave: bool = True) -> tqdm:
    """Wrap ``iterable`` in a tqdm bar with an ETA; ``bar.set_postfix(loss=...)`` adds metrics.

    A transient bar (``leave=False``, e.g. the batches of one epoch under a bar of epochs) is
    shown only in a terminal: written to a log file, its redraws are line noise."""
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        leave=leave,
        dynamic_ncols=True,
        mininterval=0.5,
        disable=progress_disabled() or (not leave and not sys.stderr.isatty()),
    )
