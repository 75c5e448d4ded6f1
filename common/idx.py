"""IDX files (the format of MNIST and Fashion-MNIST), parsed with numpy alone.

An IDX file is ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian uint32 sizes, then the
values in C order, big-endian. The four files of a dataset are::

    train-images-idx3-ubyte   uint8 (60000, 28, 28)     train-labels-idx1-ubyte   uint8 (60000,)
    t10k-images-idx3-ubyte    uint8 (10000, 28, 28)     t10k-labels-idx1-ubyte    uint8 (10000,)

each either uncompressed or gzipped (``.gz`` appended to the name).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

# (images file, labels file) of each split, without the optional ".gz".
IDX_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# IDX type code -> big-endian numpy dtype
_IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


class IdxFormatError(ValueError):
    """An IDX file is truncated, corrupt or not an IDX file at all; the message names the file."""


def find_idx_file(dirs: Iterable[Path], name: str) -> Path | None:
    """First existing ``dir/name`` or ``dir/name.gz`` over ``dirs`` (in order), else ``None``."""
    for folder in dirs:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise IdxFormatError(
            f"cannot read IDX file {path}: {exc}. The file is truncated or corrupt; "
            "delete it and download it again (python -m common.data download ...)."
        ) from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped when its name ends in ``.gz``).

    Returns an array of the file's shape in native byte order (``uint8`` for MNIST files).
    Raises :class:`IdxFormatError`, naming the file, on a wrong magic number or a size that does
    not match the header.
    """
    path = Path(path)
    raw = _read_bytes(path)
    hint = "delete it and download it again (python -m common.data download ...)."
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise IdxFormatError(
            f"{path} is not an IDX file: expected the magic bytes 00 00 <type> <ndim> with type "
            f"in {sorted(_IDX_DTYPES)}, received {raw[:4].hex(' ') or 'an empty file'}; {hint}"
        )
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise IdxFormatError(f"{path} is truncated inside its header ({len(raw)} bytes); {hint}")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header_len + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise IdxFormatError(
            f"{path} is truncated or corrupt: its header says shape {shape} ({expected} bytes "
            f"in all), the file holds {len(raw)} bytes; {hint}"
        )
    data = np.frombuffer(raw, dtype, offset=header_len).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False)


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``uint8 (N, 28, 28)`` and labels ``int64 (N,)`` in 0..9 from two IDX files."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise IdxFormatError(
            f"{images_path}: expected uint8 images of shape (N, 28, 28), received "
            f"{images.dtype} {images.shape}; is this the right file?"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise IdxFormatError(
            f"{labels_path}: expected {images.shape[0]} labels (one per image of "
            f"{images_path.name}), received shape {labels.shape}; are the files of the same split?"
        )
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise IdxFormatError(
            f"{labels_path}: expected labels in 0..9, received {labels.min()}..{labels.max()}"
        )
    return images, labels
