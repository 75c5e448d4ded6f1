"""Decoded datasets cached as ``.safetensors`` files, so that the second load is fast.

Each file holds the arrays of one dataset split and, in its ``__metadata__``, a *fingerprint* of
what it was decoded from (library versions, source files' sizes and mtimes). :func:`load_arrays`
returns ``None`` when the file is missing, stale (another fingerprint) or corrupt (and then
removes it), so the caller decodes again; :func:`save_arrays` writes atomically (temp file +
``os.replace``), so a crash or a concurrent worker never leaves a half-written file.

Reading maps the file copy-on-write instead of copying it: a 60,000-image float32 split loads in
milliseconds, and writing into the returned arrays never changes the file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

FORMAT_VERSION = "1"
_FINGERPRINT_KEY = "fingerprint"
# safetensors dtype names <-> numpy (little-endian, as the format requires)
_DTYPES = {"U8": "<u1", "I64": "<i8", "F32": "<f4", "F64": "<f8", "I32": "<i4"}

# name -> (dtype, shape); None in a shape matches any size
Spec = dict[str, tuple[np.dtype, tuple[int | None, ...]]]


class CacheCorruptError(ValueError):
    """A cache file does not parse as safetensors or does not hold the expected arrays."""


def _parse(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise CacheCorruptError(f"{size} bytes, shorter than a safetensors header")
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    header_len = int.from_bytes(buf[:8], "little")
    if header_len > size - 8:
        raise CacheCorruptError(f"header length {header_len} exceeds the file size {size}")
    try:
        header = json.loads(bytes(buf[8 : 8 + header_len]))
    except ValueError as exc:
        raise CacheCorruptError(f"unreadable header: {exc}") from exc
    if not isinstance(header, dict):
        raise CacheCorruptError("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    start, data_len = 8 + header_len, size - 8 - header_len
    arrays: dict[str, np.ndarray] = {}
    end_max = 0
    for name, info in header.items():
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]])
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CacheCorruptError(f"bad entry for {name!r}: {exc}") from exc
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= data_len or end - begin != count * dtype.itemsize:
            raise CacheCorruptError(f"{name!r}: offsets {begin}..{end} do not fit the data")
        array = np.frombuffer(buf, dtype, count=count, offset=start + begin).reshape(shape)
        arrays[name] = array if array.flags.aligned else array.copy()
        end_max = max(end_max, end)
    if end_max != data_len:
        raise CacheCorruptError(f"{data_len} data bytes, the header accounts for {end_max}")
    return metadata, arrays


def load_arrays(path: Path, fingerprint: str, spec: Spec) -> dict[str, np.ndarray] | None:
    """The arrays cached in ``path``, or ``None`` if missing, stale or corrupt.

    ``spec`` gives each expected array's dtype and shape (``None`` = any size). A corrupt file is
    logged at WARNING and removed, so that the caller's rebuild replaces it.
    """
    if not path.is_file():
        return None
    try:
        metadata, arrays = _parse(path)
        if metadata.get(_FINGERPRINT_KEY) != f"{FORMAT_VERSION}:{fingerprint}":
            logger.info("decode cache %s is stale (other source or versions); rebuilding", path)
            return None
        for name, (dtype, shape) in spec.items():
            array = arrays.get(name)
            if array is None:
                raise CacheCorruptError(f"no array {name!r}")
            ok_shape = len(array.shape) == len(shape) and all(
                want is None or want == got for want, got in zip(shape, array.shape, strict=True)
            )
            if array.dtype != dtype or not ok_shape:
                raise CacheCorruptError(
                    f"{name!r} is {array.dtype} {array.shape}, expected {dtype} {shape}"
                )
    except (OSError, ValueError) as exc:  # CacheCorruptError is a ValueError
        logger.warning("decode cache %s is corrupt (%s); removing it and decoding again", path, exc)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        return None
    return {name: arrays[name] for name in spec}


def save_arrays(path: Path, arrays: dict[str, np.ndarray], fingerprint: str) -> bool:
    """Write ``arrays`` to ``path`` atomically; ``False`` (logged) if the folder is not writable.

    A read-only data dir (a sandbox, a shared machine) costs speed, never correctness.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        contiguous = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
        save_file(contiguous, tmp, metadata={_FINGERPRINT_KEY: f"{FORMAT_VERSION}:{fingerprint}"})
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared data dir's cache from others
        os.replace(tmp, path)
    except (OSError, SafetensorError) as exc:
        logger.warning("cannot write the decode cache %s (%s); next load decodes again", path, exc)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return False
    return True


def cached_arrays(
    path: Path, fingerprint: str, spec: Spec, decode: Callable[[], dict[str, np.ndarray]]
) -> tuple[dict[str, np.ndarray], str]:
    """The arrays cached in ``path``, else ``decode()``'s (then cached); plus how, for logs."""
    arrays = load_arrays(path, fingerprint, spec)
    if arrays is not None:
        return arrays, f"cached decode at {path}"
    arrays = decode()
    if save_arrays(path, arrays, fingerprint):
        return arrays, f"decoded now, cached to {path}"
    return arrays, "decoded now, not cached"
