"""Checks of what the grader receives from the sandbox or reads from the student's files.

Nothing the submission hands over is used before these checks pass: its type, dtype and exact
shape (so that no broadcast or conversion can blow up in the grader), then its values. Each
failure is an ``AssertionError`` that says what was received and what was expected; none names
a hidden expected value.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence

import numpy as np
from problems import describe

from common.checks import check_finite, check_shape

PI_SUM_TOL = 1e-6  # |sum(pi) - 1|
SYMMETRY_RTOL = 1e-8  # max |S - S^T| relative to max |S|
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 64 << 10  # a 28 x 28 grey-scale PNG is about 1 KB


def received_array(what: str, value, shape: Sequence[int], *, finite: bool = True
                   ) -> np.ndarray:
    """``value`` as a float64 array, once it is a real floating-point ndarray of exactly
    ``shape`` (and, with ``finite``, free of NaN and infinity).

    Parameters
    ----------
    what : str, how the student knows the value (``"_e_step(X)"``, ``"self.means"``)
    value : anything that came from the sandbox or a student's file
    shape : tuple of int, the exact expected shape

    Raises
    ------
    AssertionError
        Naming what was received (type, shape, dtype) and what was expected, before any
        arithmetic touches ``value``.
    """
    shape = tuple(int(s) for s in shape)
    if not isinstance(value, np.ndarray):
        raise AssertionError(f"{what} must be a numpy array of shape {shape}; received "
                             f"{describe(value)}.")
    try:
        check_shape(what, value, shape)
    except ValueError as exc:
        raise AssertionError(str(exc)) from None
    if value.dtype.kind != "f":
        raise AssertionError(
            f"{what} must hold real floating-point numbers (e.g. float64); received dtype "
            f"{value.dtype}." + (" np.linalg.eigh (not eig) gives real eigenvectors."
                                 if value.dtype.kind == "c" else ""))
    if finite:
        try:
            check_finite(what, value)
        except ValueError as exc:
            raise AssertionError(str(exc)) from None
    return value.astype(np.float64, copy=False)


def received_tuple(what: str, value, length: int) -> tuple:
    """``value`` once it is a tuple or list of ``length`` items (e.g. the arguments of a call,
    read back from the sandbox)."""
    if not isinstance(value, tuple | list) or len(value) != length:
        got = f"{type(value).__name__} of {len(value)} items" if isinstance(
            value, tuple | list) else describe(value)
        raise AssertionError(f"{what} must be {length} value(s); received {got}.")
    return tuple(value)


def gmm_problems(means: np.ndarray, covs: np.ndarray, pi: np.ndarray) -> list[str]:
    """What makes finite GMM parameters of checked shapes (K, D), (K, D, D), (K,) unusable:
    negative weights, weights not summing to 1, covariances that are not symmetric positive
    definite. Empty when they are a valid mixture."""
    problems = []
    if (pi < 0).any():
        problems.append(f"pi has {int((pi < 0).sum())} negative weight(s) (mixing weights are "
                        ">= 0)")
    total = float(pi.sum())
    if abs(total - 1.0) > PI_SUM_TOL:
        problems.append(f"pi sums to {total:.6g} (mixing weights sum to 1: pi_k = N_k / N)")
    scale = max(float(np.abs(covs).max()), np.finfo(float).tiny)
    asymmetric = [k for k in range(len(covs))
                  if np.abs(covs[k] - covs[k].T).max() > SYMMETRY_RTOL * scale]
    if asymmetric:
        problems.append(f"the covariance(s) {asymmetric[:5]} are not symmetric")
    singular = []
    for k in range(len(covs)):
        try:
            np.linalg.cholesky(covs[k])
        except np.linalg.LinAlgError:
            singular.append(k)
    if singular:
        problems.append(f"the covariance(s) {singular[:5]} are not positive definite (a "
                        "degenerate component; the M-step adds 1e-6 I to every covariance)")
    return problems


def received_gmm(where: str, means, covs, pi, k: int, d: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(means (K, D), covs (K, D, D), pi (K,))`` as float64 once their types, shapes and
    values make a valid K-component mixture in D dimensions; AssertionError naming ``where``
    the parameters come from (``"after your _m_step at EM iteration 3"``) otherwise."""
    means = received_array(f"means ({where})", means, (k, d))
    covs = received_array(f"covs ({where})", covs, (k, d, d))
    pi = received_array(f"pi ({where})", pi, (k,))
    problems = gmm_problems(means, covs, pi)
    if problems:
        raise AssertionError(f"the GMM parameters {where} are not a valid mixture: "
                             + "; ".join(problems) + ".")
    return means, covs, pi


def png_size(what: str, data) -> tuple[int, int]:
    """(width, height) from the IHDR chunk of PNG bytes, once ``data`` is bytes of at most
    MAX_PNG_BYTES that start like a PNG; nothing is decoded."""
    if not isinstance(data, bytes) or len(data) > MAX_PNG_BYTES:
        got = f"{len(data)} bytes" if isinstance(data, bytes) else describe(data)
        raise AssertionError(f"{what} is {got}; a small grey-scale PNG is about 1 KB (at most "
                             f"{MAX_PNG_BYTES >> 10} KB accepted)")
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise AssertionError(f"{what} is not a PNG file (it does not start with the PNG "
                             "signature); save it with Image.fromarray(array).save(path)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def received_png(what: str, data, size: tuple[int, int]) -> np.ndarray:
    """The grey levels (H, W) float64 of the grey-scale (mode L) PNG ``data``, whose byte size,
    signature and header's (width, height) = ``size`` are checked before Pillow decodes it, as a
    PNG only."""
    from PIL import Image

    width, height = png_size(what, data)
    if (width, height) != tuple(size):
        raise AssertionError(f"the image is {width} x {height} pixels; expected {size[0]} x "
                             f"{size[1]} (reshape the pixels to [{size[1]}, {size[0]}])")
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG"])
        image.load()
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the student's file
        raise AssertionError(f"{what} is not a readable PNG ({str(exc)[:200]})") from None
    if image.size != (width, height):
        raise AssertionError(f"{what} decodes to {image.size[0]} x {image.size[1]} pixels, not "
                             f"the {width} x {height} of its header")
    if image.mode != "L":
        raise AssertionError(
            f"the image has mode {image.mode!r}; a grey-scale [H, W] uint8 array gives mode 'L'. "
            "Convert with .astype(np.uint8) before Image.fromarray.")
    return np.asarray(image, dtype=np.float64)
