import numpy as np
import pytest

from common.checks import check_choice, check_finite, check_positive_int, check_shape


def test_check_shape_accepts_and_binds_named_sizes():
    sizes = check_shape("X", np.zeros((5, 3)), ("N", "D"))
    assert sizes == {"N": 5, "D": 3}
    check_shape("gamma", np.zeros((5, 2)), ("N", None), sizes)


def test_check_shape_message_names_received_and_expected():
    expected = r"X must have shape \(\?, 784\); received shape \(3, 28\)"
    with pytest.raises(ValueError, match=expected):
        check_shape("X", np.zeros((3, 28)), (None, 784))


def test_check_shape_rank_mismatch_suggests_reshape():
    with pytest.raises(ValueError, match="2 dimension.*received shape \\(784,\\).*reshape"):
        check_shape("X", np.zeros(784), (None, 784))


def test_check_shape_inconsistent_named_size():
    sizes = check_shape("X", np.zeros((5, 3)), ("N", "D"))
    with pytest.raises(ValueError, match="N = 5 elsewhere"):
        check_shape("gamma", np.zeros((4, 2)), ("N", "K"), sizes)


def test_check_shape_rejects_non_arrays():
    with pytest.raises(TypeError, match="received list"):
        check_shape("X", [[1, 2]], (None, 2))


def test_check_shape_works_on_torch_tensors():
    torch = pytest.importorskip("torch")
    check_shape("x", torch.zeros(2, 3), (2, 3))


def test_check_finite_counts_bad_values():
    check_finite("x", np.arange(3))
    with pytest.raises(ValueError, match="2 NaN/inf value"):
        check_finite("x", np.array([1.0, np.nan, np.inf]))


def test_check_choice_and_positive_int():
    check_choice("split", "train", ("train", "test"))
    with pytest.raises(ValueError, match="'train', 'test'; received 'val'"):
        check_choice("split", "val", ("train", "test"))
    assert check_positive_int("k", np.int64(3)) == 3
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="positive integer"):
            check_positive_int("k", bad)
