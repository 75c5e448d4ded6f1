"""Checks of lab_data_selection's vectors from the sandbox, on top of
:mod:`grading.received` (run in the grader before it computes with them)."""

from __future__ import annotations

import numpy as np

from grading.received import returned


def flat_vector(value, name: str, size: int) -> np.ndarray:
    """A float64 copy of a returned flat vector: a plain float tensor of shape (size,), finite
    (the lab's problem wrappers flatten the student's list of tensors into one vector)."""
    vector = returned(value, name, shape=(size,),
                      hint="It must have one entry per parameter, shaped like them.")
    return vector.detach().numpy().astype(np.float64)


def relative_error(received: np.ndarray, expected: np.ndarray) -> float:
    """||received - expected|| / ||expected||, for arrays already checked to match in shape."""
    return float(np.linalg.norm(received - expected) / max(np.linalg.norm(expected), 1e-300))
