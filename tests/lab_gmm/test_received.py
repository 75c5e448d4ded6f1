"""The hidden tests' checks of what comes from the sandbox or the student's files
(``received``): exact shapes before any arithmetic, PNGs sized from their header before
decoding, GMM parameters that make a valid mixture."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from .conftest import hidden_module

received = hidden_module("received")


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk claiming width x height grey pixels, then one IDAT."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (received.PNG_SIGNATURE + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def test_a_broadcastable_wrong_shape_is_refused_by_its_shape():
    with pytest.raises(AssertionError, match=r"received shape \(20000, 1, 1\)"):
        received.received_array("inverse_transform(Z)", np.zeros((20000, 1, 1)), (200, 30))
    with pytest.raises(AssertionError, match="received list"):
        received.received_array("gamma", [[0.5, 0.5]], (1, 2))
    with pytest.raises(AssertionError, match="complex128.*eigh"):
        received.received_array("self.components", np.zeros((2, 3), complex), (2, 3))
    with pytest.raises(AssertionError, match="NaN"):
        received.received_array("gamma", np.full((1, 2), np.nan), (1, 2))
    back = received.received_array("gamma", np.ones((1, 2), np.float32), (1, 2))
    assert back.dtype == np.float64


def test_a_png_is_sized_from_its_header_before_decoding():
    start = time.perf_counter()
    with pytest.raises(AssertionError, match="100000 x 100000 pixels; expected 28 x 28"):
        received.received_png("gmm_sample.png", _png_header_only(100_000, 100_000), (28, 28))
    assert time.perf_counter() - start < 0.5
    with pytest.raises(AssertionError, match="not a PNG"):
        out = io.BytesIO()
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(out, format="JPEG")
        received.received_png("gmm_sample.png", out.getvalue(), (28, 28))
    with pytest.raises(AssertionError, match="KB accepted"):
        received.received_png("gmm_sample.png", b"\x89PNG" + bytes(1 << 20), (28, 28))
    with pytest.raises(AssertionError, match="mode 'RGB'"):
        received.received_png("gmm_sample.png", _png(np.zeros((28, 28, 3), np.uint8)), (28, 28))
    pixels = np.arange(784).reshape(28, 28).astype(np.uint8)
    np.testing.assert_array_equal(received.received_png("x", _png(pixels), (28, 28)), pixels)


def test_gmm_problems_name_what_makes_a_mixture_invalid():
    means, covs, pi = np.zeros((2, 2)), np.tile(np.eye(2), (2, 1, 1)), np.array([0.5, 0.5])
    assert received.gmm_problems(means, covs, pi) == []
    assert "sums to 2" in " ".join(received.gmm_problems(means, covs, 2 * pi))
    assert "negative" in " ".join(received.gmm_problems(means, covs, np.array([1.5, -0.5])))
    skewed = covs.copy()
    skewed[1, 0, 1] = 0.5
    assert "[1] are not symmetric" in " ".join(received.gmm_problems(means, skewed, pi))
    singular = covs.copy()
    singular[0] = [[1.0, 1.0], [1.0, 1.0]]
    assert "[0] are not positive definite" in " ".join(received.gmm_problems(means, singular, pi))
