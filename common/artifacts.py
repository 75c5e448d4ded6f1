"""Artifacts on disk: a folder with ``config.json`` + ``NAME.safetensors``; never pickles.

* numpy models (the GMM and PCA of the GMM lab) use :func:`save_arrays` / :func:`load_arrays`,
  or inherit :class:`NumpyArtifactMixin` for ``save_pretrained`` / ``from_pretrained``;
* torch models inherit huggingface_hub's ``PyTorchModelHubMixin``; load them through
  :func:`load_torch_pretrained`, which turns missing or corrupt files into one clear error.

Layout of a numpy artifact (``gmm/`` of the GMM lab)::

    gmm/config.json        {"class": "GMM", "format_version": 1, "config": {...}, "arrays": [...]}
    gmm/gmm.safetensors    the arrays by name
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"


def new_run_folder(root: str | Path) -> Path:
    """``root/{datetime}/`` (e.g. ``results/2026-01-31_12-00-00``), created; ``_2``, ``_3``, ...
    keep two runs started in the same second apart."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    folder, n = Path(root) / stamp, 1
    while folder.exists():
        n += 1
        folder = Path(root) / f"{stamp}_{n}"
    folder.mkdir(parents=True)
    return folder


class ArtifactError(RuntimeError):
    """A saved artifact is missing, incomplete or corrupt; the message names the file."""


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_arrays(folder: str | Path, name: str, arrays: dict[str, np.ndarray],
                config: dict[str, Any], class_name: str | None = None) -> Path:
    """Write ``folder/config.json`` and ``folder/{name}.safetensors``; return ``folder``.

    ``arrays`` maps names to numpy arrays (any numeric dtype); ``config`` must be JSON-able
    (constructor arguments and small facts such as the number of EM iterations).
    """
    from safetensors.numpy import save

    if not arrays:
        raise ValueError(f"nothing to save for {name!r}: arrays is empty.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clean = {}
    for key, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"array {key!r} of {name!r} has dtype object; save numbers only.")
        clean[key] = np.ascontiguousarray(array)
    meta = {
        "class": class_name or name,
        "format_version": FORMAT_VERSION,
        "config": config,
        "arrays": sorted(clean),
    }
    _atomic_write_bytes(folder / f"{name}.safetensors", save(clean))
    _atomic_write_bytes(folder / CONFIG_FILE, (json.dumps(meta, indent=2) + "\n").encode())
    return folder


def load_arrays(folder: str | Path, name: str, class_name: str | None = None
                ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read what :func:`save_arrays` wrote; return ``(config, arrays)``.

    Raises :class:`ArtifactError` naming the file when the folder, the config or the weights are
    missing, unreadable, of another class, or lack an array that the config lists.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    config_path = folder / CONFIG_FILE
    weights_path = folder / f"{name}.safetensors"
    if not folder.is_dir():
        raise ArtifactError(
            f"no saved {name!r} artifact at {folder}: the folder does not exist. Check the path "
            f"(it should contain {CONFIG_FILE} and {name}.safetensors), or train first."
        )
    for required in (config_path, weights_path):
        if not required.is_file():
            raise ArtifactError(
                f"incomplete {name!r} artifact: {required} is missing. Re-run the step that "
                f"saves it (training was perhaps interrupted)."
            )
    try:
        meta = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{config_path} is not valid JSON ({exc}); "
                            "re-save the model.") from None
    if not isinstance(meta, dict) or "config" not in meta:
        raise ArtifactError(f"{config_path} has no 'config' entry; it was not written by "
                            "save_pretrained. Re-save the model.")
    expected_class = class_name or name
    if meta.get("class", expected_class) != expected_class:
        raise ArtifactError(
            f"{config_path} holds a {meta.get('class')!r}, not a {expected_class!r}; "
            "check that the path points at the right folder."
        )
    try:
        arrays = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{weights_path} is corrupt or unreadable ({exc}); "
                            "re-save the model.") from None
    missing = sorted(set(meta.get("arrays", [])) - set(arrays))
    if missing:
        raise ArtifactError(f"{weights_path} lacks the array(s) {missing} that "
                            f"{config_path} lists; re-save the model.")
    return meta["config"], arrays


class NumpyArtifactMixin:
    """``save_pretrained(path)`` / ``from_pretrained(path)`` for numpy models.

    A subclass sets ``artifact_name`` and implements ``_artifact_config`` (constructor keyword
    arguments), ``_artifact_arrays`` (name -> array) and ``_load_arrays`` (put them back).
    """

    artifact_name: ClassVar[str]

    def _artifact_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def _artifact_arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def save_pretrained(self, path: str | Path) -> Path:
        """Save to the folder ``path`` (``config.json`` + ``{artifact_name}.safetensors``)."""
        return save_arrays(path, self.artifact_name, self._artifact_arrays(),
                           self._artifact_config(), class_name=type(self).__name__)

    @classmethod
    def from_pretrained(cls, path: str | Path):
        """Rebuild a model saved by :meth:`save_pretrained`."""
        config, arrays = load_arrays(path, cls.artifact_name, class_name=cls.__name__)
        try:
            model = cls(**config)
        except TypeError as exc:
            raise ArtifactError(f"{Path(path) / CONFIG_FILE} does not fit {cls.__name__}: "
                                f"{exc}") from None
        model._load_arrays(arrays)
        return model


def load_torch_pretrained(cls, source: str | Path, **kwargs):
    """``cls.from_pretrained(source)`` for a ``PyTorchModelHubMixin`` class, with clear errors.

    ``source`` is a local folder (``config.json`` + ``model.safetensors``) or a hub repo id
    (``user/name``). A local path that does not exist is never sent to the hub.
    """
    path = Path(source)
    looks_local = path.exists() or str(source).startswith((".", "/", "~")) or path.suffix
    if looks_local:
        if not path.is_dir():
            raise ArtifactError(f"no saved {cls.__name__} at {path}: the folder does not exist. "
                                "Run load_resources.py first.")
        weights = path / "model.safetensors"
        if not weights.is_file():
            raise ArtifactError(f"incomplete {cls.__name__} artifact: {weights} is missing. "
                                "Re-run load_resources.py.")
    try:
        # huggingface_hub prints "Loading weights from local directory" for a folder
        with contextlib.redirect_stdout(io.StringIO()) if looks_local else contextlib.nullcontext():
            return cls.from_pretrained(str(source), **kwargs)
    except ArtifactError:
        raise
    except Exception as exc:  # huggingface_hub, safetensors and torch raise many kinds
        where = f"the folder {path}" if looks_local else f"the hub repo {source!r}"
        hint = ("re-save it (the files are corrupt or from another model)" if looks_local else
                "check the repo id and your network, or train locally with load_resources.py")
        raise ArtifactError(f"could not load {cls.__name__} from {where}: "
                            f"{type(exc).__name__}: {str(exc)[:300]}. Try: {hint}.") from None
