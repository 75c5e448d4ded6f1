"""The grader's checks of values from the sandbox, before it computes with them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grading.received import describe, number, returned


def test_returned_checks_type_shape_size_dtype_and_finiteness():
    x = np.zeros(3)
    assert returned(x, "x", kind="ndarray", shape=(3,)) is x
    with pytest.raises(AssertionError, match=r"x must be an ndarray of shape \(3,\)"):
        returned(x.tolist(), "x", kind="ndarray", shape=(3,))
    with pytest.raises(AssertionError, match=r"received shape \(3, 1\)"):
        returned(x[:, None], "x", kind="ndarray", shape=(3,))
    with pytest.raises(AssertionError, match="at most 2 entries"):
        returned(x, "x", kind="ndarray", max_size=2)
    with pytest.raises(AssertionError, match="received dtype int64"):
        returned(x.astype(np.int64), "x", kind="ndarray", shape=(3,))
    with pytest.raises(AssertionError, match="1 NaN or infinite"):
        returned(np.array([0.0, np.inf, 1.0]), "x", kind="ndarray")
    assert number(np.float32(2.5), "y") == 2.5
    assert number(torch.tensor([1.5]), "y") == 1.5
    for bad in (True, torch.zeros(2), "1.0", None, float("nan")):
        with pytest.raises(AssertionError, match="y"):
            number(bad, "y")



def test_describe_runs_no_student_code():
    class Sneaky(np.ndarray):
        def __repr__(self):
            raise RuntimeError("student code ran")

    assert describe(np.zeros((2, 3))) == "an ndarray of shape (2, 3) and dtype float64"
    assert "Sneaky" in describe(np.zeros(2).view(Sneaky))
    with pytest.raises(AssertionError, match="ndarray"):
        returned(np.zeros(2).view(Sneaky), "x", kind="ndarray", shape=(2,))
