"""Tests of common.idx: the IDX parser, on small files written here."""

import gzip
import struct

import numpy as np
import pytest

from common.idx import IdxFormatError, find_idx_file, read_idx, read_idx_pair

CODES = {("u", 1): 0x08, ("i", 1): 0x09, ("i", 2): 0x0B, ("i", 4): 0x0C, ("f", 4): 0x0D,
         ("f", 8): 0x0E}


def idx_bytes(array):
    """An IDX file's bytes: magic, big-endian uint32 sizes, big-endian values."""
    array = np.asarray(array)
    big = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, CODES[array.dtype.kind, array.dtype.itemsize], array.ndim])
    return header + struct.pack(f">{array.ndim}I", *array.shape) + big.tobytes()


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trips_every_type_gzipped_or_not(tmp_path, gz, dtype):
    offset = 0 if np.dtype(dtype).kind == "u" else 5  # negative values for signed types
    array = (np.arange(24) - offset).reshape(2, 3, 4).astype(dtype)
    raw = idx_bytes(array)
    path = tmp_path / ("x-idx3.gz" if gz else "x-idx3")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "not an IDX file"),
     (b"PK\x03\x04zip file", "not an IDX file"),
     (b"\x00\x00\x08\x03\x00\x00", "truncated inside its header"),
     (None, "truncated or corrupt"),
     ("extra", "truncated or corrupt")],
)
def test_read_idx_names_the_file_when_corrupt(tmp_path, content, words):
    good = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    content = good[:-10] if content is None else good + b"\x00" if content == "extra" else content
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(IdxFormatError, match=words) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_broken_gzip_names_the_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8)))[:30])
    with pytest.raises(IdxFormatError, match="t10k-labels-idx1-ubyte.gz"):
        read_idx(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(IdxFormatError, match="t10k-labels-idx1-ubyte.gz"):
        read_idx(path)


def test_read_idx_pair_checks_shapes_counts_and_labels(tmp_path):
    images, labels = tmp_path / "i", tmp_path / "l"
    images.write_bytes(idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    labels.write_bytes(idx_bytes(np.array([0, 9, 4], np.uint8)))
    out_images, out_labels = read_idx_pair(images, labels)
    assert out_images.shape == (3, 28, 28) and out_labels.dtype == np.int64
    labels.write_bytes(idx_bytes(np.array([0, 9], np.uint8)))
    with pytest.raises(IdxFormatError, match="expected 3 labels"):
        read_idx_pair(images, labels)
    labels.write_bytes(idx_bytes(np.array([0, 9, 12], np.uint8)))
    with pytest.raises(IdxFormatError, match="labels in 0..9"):
        read_idx_pair(images, labels)
    images.write_bytes(idx_bytes(np.zeros((3, 32, 32), np.uint8)))
    with pytest.raises(IdxFormatError, match=r"\(N, 28, 28\)"):
        read_idx_pair(images, labels)


def test_find_idx_file_prefers_earlier_folders_and_accepts_gz(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / "x.gz").write_bytes(b"")
    assert find_idx_file([first, second], "x") == second / "x.gz"
    (first / "x").write_bytes(b"")
    assert find_idx_file([first, second], "x") == first / "x"
    assert find_idx_file([first, second], "y") is None
