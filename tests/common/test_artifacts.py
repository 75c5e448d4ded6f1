import json
import re

import numpy as np
import pytest

from common.artifacts import (
    ArtifactError,
    NumpyArtifactMixin,
    load_arrays,
    load_torch_pretrained,
    new_run_folder,
    save_arrays,
)


class TinyModel(NumpyArtifactMixin):
    artifact_name = "tiny"

    def __init__(self, dim):
        self.dim = dim
        self.weights = np.zeros(dim)

    def _artifact_config(self):
        return {"dim": self.dim}

    def _artifact_arrays(self):
        return {"weights": self.weights}

    def _load_arrays(self, arrays):
        self.weights = arrays["weights"]


def test_numpy_round_trip_and_layout(tmp_path):
    model = TinyModel(4)
    model.weights = np.arange(4.0)
    model.save_pretrained(tmp_path / "tiny")
    names = sorted(p.name for p in (tmp_path / "tiny").iterdir())
    assert names == ["config.json", "tiny.safetensors"]
    meta = json.loads((tmp_path / "tiny" / "config.json").read_text())
    assert meta["class"] == "TinyModel" and meta["config"] == {"dim": 4}
    loaded = TinyModel.from_pretrained(tmp_path / "tiny")
    np.testing.assert_array_equal(loaded.weights, np.arange(4.0))


def test_save_arrays_keeps_dtypes(tmp_path):
    arrays = {"a": np.eye(3, dtype=np.float32), "b": np.arange(5, dtype=np.int64)}
    save_arrays(tmp_path / "m", "m", arrays, {"k": 1})
    config, back = load_arrays(tmp_path / "m", "m")
    assert config == {"k": 1}
    assert back["a"].dtype == np.float32 and back["b"].dtype == np.int64


def test_missing_folder_and_missing_file_name_the_path(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        load_arrays(tmp_path / "nope", "gmm")
    save_arrays(tmp_path / "gmm", "gmm", {"x": np.zeros(2)}, {})
    (tmp_path / "gmm" / "gmm.safetensors").unlink()
    with pytest.raises(ArtifactError, match=r"gmm\.safetensors is missing"):
        load_arrays(tmp_path / "gmm", "gmm")


def test_corrupt_weights_and_config_name_the_file(tmp_path):
    save_arrays(tmp_path / "gmm", "gmm", {"x": np.zeros(2)}, {})
    (tmp_path / "gmm" / "gmm.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(ArtifactError, match=r"gmm\.safetensors is corrupt"):
        load_arrays(tmp_path / "gmm", "gmm")
    (tmp_path / "gmm" / "config.json").write_text("{not json")
    with pytest.raises(ArtifactError, match=r"config\.json is not valid JSON"):
        load_arrays(tmp_path / "gmm", "gmm")


def test_wrong_class_is_caught(tmp_path):
    save_arrays(tmp_path / "pca", "pca", {"x": np.zeros(2)}, {}, class_name="PCA")
    weights = (tmp_path / "pca" / "pca.safetensors").read_bytes()
    (tmp_path / "pca" / "gmm.safetensors").write_bytes(weights)
    with pytest.raises(ArtifactError, match="holds a 'PCA', not a 'GMM'"):
        load_arrays(tmp_path / "pca", "gmm", class_name="GMM")


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        save_arrays(tmp_path / "m", "m", {"x": np.array([object()])}, {})


def test_torch_hub_mixin_round_trip_and_clear_errors(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from huggingface_hub import PyTorchModelHubMixin

    class Net(torch.nn.Module, PyTorchModelHubMixin):
        def __init__(self, width: int = 3):
            super().__init__()
            self.layer = torch.nn.Linear(width, 2)

    net = Net(width=5)
    net.save_pretrained(tmp_path / "net")
    capsys.readouterr()
    loaded = load_torch_pretrained(Net, tmp_path / "net")
    assert capsys.readouterr().out == ""  # not huggingface_hub's "Loading weights from ..."
    assert loaded.layer.in_features == 5
    torch.testing.assert_close(loaded.layer.weight, net.layer.weight)

    with pytest.raises(ArtifactError, match="load_resources.py"):
        load_torch_pretrained(Net, tmp_path / "absent")
    (tmp_path / "net" / "model.safetensors").write_bytes(b"broken")
    with pytest.raises(ArtifactError, match="could not load Net from the folder"):
        load_torch_pretrained(Net, tmp_path / "net")


def test_new_run_folder_is_dated_and_never_reuses_a_folder(tmp_path):
    first = new_run_folder(tmp_path / "results")
    second = new_run_folder(tmp_path / "results")
    assert first.is_dir() and second.is_dir() and first != second
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}(_\d+)?", first.name), first.name
