"""Split objects of the lab: the digits split built from arrays, and one that records reads.

``fit_model`` and ``random_search`` take any object with the attributes of
:class:`common.data.DigitsSplit` (``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``,
``y_test``). The grader hands them a :class:`RecordingSplit`, which notes every attribute read,
to check that model selection never looks at the test split.
"""

from __future__ import annotations

import numpy as np

FIELDS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")
TEST_FIELDS = ("X_test", "y_test", "images_test")


class RecordingSplit:
    """A split built from arrays that records which of them were read.

    Parameters
    ----------
    X_train : ndarray of shape (N_train, 64); y_train : ndarray of shape (N_train,)
    X_val : ndarray of shape (N_val, 64); y_val : ndarray of shape (N_val,)
    X_test : ndarray of shape (N_test, 64) or None; y_test : ndarray of shape (N_test,) or None

    Reading ``split.X_val`` returns the array and appends ``"X_val"`` to :meth:`accessed`.
    Reading a field that was given as None raises AttributeError (and is recorded too).
    """

    __slots__ = ("_arrays", "_log")

    def __init__(self, X_train, y_train, X_val, y_val, X_test=None, y_test=None):
        arrays = dict(zip(FIELDS, (X_train, y_train, X_val, y_val, X_test, y_test), strict=True))
        for name, value in arrays.items():
            if value is None and name in ("X_test", "y_test"):
                continue
            value = np.asarray(value)
            want = 2 if name.startswith("X") else 1
            if value.ndim != want:
                raise ValueError(f"RecordingSplit: {name} must have {want} dimension(s); "
                                 f"received shape {value.shape}.")
            arrays[name] = value
        object.__setattr__(self, "_arrays", arrays)
        object.__setattr__(self, "_log", [])

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        log = object.__getattribute__(self, "_log")
        log.append(name)
        arrays = object.__getattribute__(self, "_arrays")
        value = arrays.get(name)
        if value is None:
            raise AttributeError(f"this split has no {name!r}; it has "
                                 f"{', '.join(k for k, v in arrays.items() if v is not None)}.")
        return value

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("a RecordingSplit is read-only")

    def accessed(self) -> list[str]:
        """The attribute names read so far, in order (repeats included)."""
        return list(object.__getattribute__(self, "_log"))

    def test_reads(self) -> list[str]:
        """The distinct test-split fields read so far, sorted."""
        return sorted({name for name in self.accessed() if name in TEST_FIELDS})

    def __repr__(self) -> str:
        sizes = {k: len(v) for k, v in object.__getattribute__(self, "_arrays").items()
                 if v is not None and k.startswith("y")}
        return f"RecordingSplit({', '.join(f'{k[2:]}={n}' for k, n in sizes.items())})"
