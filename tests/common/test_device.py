import pytest

from common.device import pick_device

torch = pytest.importorskip("torch")


def test_cpu_and_auto():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_cuda_without_gpu_says_what_to_do():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="--device cpu"):
        pick_device("cuda")


@pytest.mark.gpu
def test_cuda_when_present():
    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    assert pick_device("cuda").type == "cuda"


def test_unknown_device():
    with pytest.raises(ValueError, match="received 'tpu'"):
        pick_device("tpu")
