"""Safe, typed messages between the grader (trusted) and the sandbox worker (untrusted).

A message is a UTF-8 JSON header plus raw byte buffers for array data. Decoding never runs code,
imports nothing the peer names, builds only plain values (None, bool, int, float, complex, str,
bytes, bytearray, list, tuple, dict, slice, Ellipsis, plain numpy arrays / scalars / dtypes,
plain torch tensors / dtypes) and :class:`Handle` references, never calls a method of anything
the peer made, and checks every size before allocating. What the sender cannot represent stays
on its side and travels as a Handle (``to_handle``).

Framing (integers little-endian): magic ``b"\\x89GRW"`` (4s), version (H, 1), flags (H, 0),
header length (I), buffer count N (I), N buffer lengths (N*Q), the header, the N buffers.

Header JSON: str, int, finite float, bool and None are themselves, a list is an array, anything
else is an object tagged by ``"$"``: float ("nan"/"inf"/"-inf"), complex, tuple, dict (list of
[key, value] pairs), bytes / bytearray (buffer index), ndarray / tensor (dtype name, shape,
buffer index; native byte order, C order), npscalar (dtype, hex bytes), npdtype, nptype,
torchdtype, slice, ellipsis, handle.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grading.rpc.wire_values import WireError, check_bool, shape_of

__all__ = ["DEFAULT_MAX_BYTES", "Handle", "PeerClosed", "WireError",
           "decode", "encode", "read_message", "write_message"]

MAGIC = b"\x89GRW"
VERSION = 1
DEFAULT_MAX_BYTES = 1 << 30  # a whole framed message, prefix included
MAX_HEADER_BYTES = 64 << 20
MAX_BUFFERS = 65_536
MAX_DEPTH = 64  # nested containers
MAX_NODES = 1_000_000  # values in one message
MAX_INT_DIGITS = 4300
MAX_TEXT = 200  # Handle.type_name and Handle.summary, in characters
MAX_KEY_COLLISIONS = 64  # distinct non-str dict keys sharing one hash (hash flooding)

_PREFIX = struct.Struct("<4sHHII")
_INT_LIMIT = 10**MAX_INT_DIGITS
_COALESCE = 64 << 10  # buffers smaller than this go out in the same write as the header

ToHandle = Callable[[Any], "Handle"]
FromHandle = Callable[["Handle"], Any]


class PeerClosed(WireError):
    """The peer closed the stream; ``mid_message`` says whether it stopped inside a message."""

    def __init__(self, message: str, *, mid_message: bool = False) -> None:
        super().__init__(message)
        self.mid_message = mid_message


@dataclass(frozen=True)
class Handle:
    """A reference to an object that stays on the other side. ``type_name`` and ``summary``
    are untrusted text for messages only, cut to MAX_TEXT characters."""

    id: int
    type_name: str
    summary: str

    def __post_init__(self) -> None:
        if type(self.id) is not int or not 0 <= self.id < 1 << 63:
            raise WireError(f"Handle id must be an int in [0, 2**63), got {self.id!r:.60}")
        for name in ("type_name", "summary"):
            text = getattr(self, name)
            if type(text) is not str:
                raise WireError(f"Handle.{name} must be a str, got {type(text).__name__}")
            if len(text) > MAX_TEXT:
                object.__setattr__(self, name, text[: MAX_TEXT - 3] + "...")


_NP_DTYPES = {np.dtype(c).name: np.dtype(c) for c in
              ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")}
_NP_CANON = {(d.kind, d.itemsize): name for name, d in _NP_DTYPES.items()}
_NP_BY_STR = {d.newbyteorder(o).str: d.newbyteorder(o) for d in _NP_DTYPES.values() for o in "<>"}
_NP_TYPES = {name: d.type for name, d in _NP_DTYPES.items()}
_NP_TYPE_NAMES = {np.dtype(c).type: _NP_CANON[np.dtype(c).kind, np.dtype(c).itemsize]
                  for c in "?bhilqpBHILQPefdFD"}  # every scalar class of an allowed dtype


def _np_name(dt: np.dtype) -> str | None:
    if dt.fields is not None or dt.subdtype is not None or dt.hasobject:
        return None
    return _NP_CANON.get((dt.kind, dt.itemsize))


def _torch_codec() -> Any:
    try:
        from grading.rpc import codec_torch
    except ImportError as exc:  # pragma: no cover - torch is installed in this project
        raise WireError(f"a torch value needs torch, which cannot be imported: {exc}") from None
    return codec_torch


def _enc_float(x: float) -> Any:
    return x if math.isfinite(x) else {"$": "float", "v": repr(x)}


def _enc_index(x: Any) -> int | None:
    if x is None or type(x) is int:
        return x
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return int(x)
    raise WireError(f"slice bounds must be None or int, got {type(x).__name__}")


_PLAIN_BASES: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (int, int.__int__), (float, float.__float__), (str, str.__str__),
    (bytes, lambda v: bytes(memoryview(v))), (bytearray, lambda v: bytearray(memoryview(v))),
    (list, list.copy), (tuple, lambda v: tuple(tuple.__iter__(v))),
    (dict, lambda v: dict(dict.items(v))),
)


class _Walk:
    nodes = 0

    def count(self, n: int) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            raise WireError(f"message has more than {MAX_NODES} values")


class _Encoder(_Walk):
    def __init__(self, to_handle: ToHandle | None) -> None:
        self.to_handle, self.buffers = to_handle, []

    def buffer(self, data: Any) -> int:
        if len(self.buffers) >= MAX_BUFFERS:
            raise WireError(f"message needs more than {MAX_BUFFERS} buffers")
        view = memoryview(data)
        self.buffers.append(view if view.ndim == 1 and view.format == "B" else view.cast("B"))
        return len(self.buffers) - 1

    def enc(self, v: Any, depth: int) -> Any:
        self.count(1)
        t = type(v)
        if t is str or t is bool or v is None:
            return v
        if t is int:
            if -_INT_LIMIT < v < _INT_LIMIT:
                return v
            raise WireError(f"int with more than {MAX_INT_DIGITS} digits cannot be sent")
        if t is float and math.isfinite(v):
            return v
        if depth >= MAX_DEPTH:
            raise WireError(f"value nested deeper than {MAX_DEPTH} levels (or a reference cycle)")
        d = depth + 1
        if t is list:
            return v if self.leaves(v) else [self.enc(x, d) for x in v]
        if t is tuple:
            return {"$": "tuple", "v": [self.enc(x, d) for x in v]}
        if t is dict:
            return {"$": "dict", "v": [[self.key(k, d), self.enc(x, d)] for k, x in v.items()]}
        if t is float:
            return {"$": "float", "v": repr(v)}
        if t is complex:
            return {"$": "complex", "v": [_enc_float(v.real), _enc_float(v.imag)]}
        if t is bytes or t is bytearray:
            return {"$": t.__name__, "b": self.buffer(v)}
        if t is Handle:
            return {"$": "handle", "id": v.id, "type": v.type_name, "summary": v.summary}
        if t is slice:
            return {"$": "slice", "v": [_enc_index(p) for p in (v.start, v.stop, v.step)]}
        if v is Ellipsis:
            return {"$": "ellipsis"}
        if issubclass(t, np.ndarray):
            return self.ndarray(np.ndarray.view(v, np.ndarray))  # drop matrix/masked/user class
        if issubclass(t, np.generic) and _np_name(v.dtype) is not None:
            return {"$": "npscalar", "dtype": _np_name(v.dtype), "hex": v.tobytes().hex()}
        if issubclass(t, np.dtype):
            if _np_name(v) is None:
                raise WireError(f"numpy dtype {v} cannot be sent")
            return {"$": "npdtype", "v": v.str}
        if t is type and v in _NP_TYPE_NAMES:
            return {"$": "nptype", "v": _NP_TYPE_NAMES[v]}
        torch = sys.modules.get("torch")
        if torch is not None and (issubclass(t, torch.Tensor) or t is torch.dtype):
            return _torch_codec().encode(v, self.buffer)
        if issubclass(t, np.generic) and not isinstance(v, (str, bytes)):
            raise WireError(f"numpy scalar of dtype {v.dtype} cannot be sent")
        for base, plain in _PLAIN_BASES:  # subclasses of builtins travel as their plain value
            if issubclass(t, base):
                return self.enc(plain(v), depth)
        if self.to_handle is None:
            raise WireError(f"cannot send a value of type {t.__module__}.{t.__qualname__} "
                            "(no to_handle given)")
        handle = self.to_handle(v)
        if type(handle) is not Handle:
            raise WireError(f"to_handle returned {type(handle).__name__}, expected Handle")
        return self.enc(handle, depth)

    def leaves(self, v: list) -> bool:
        """Fast path: is ``v`` all finite floats, all small ints or all str (JSON as it is)?"""
        kinds = set(map(type, v))
        if not (kinds == {float} and all(map(math.isfinite, v)) or kinds == {str} or
                kinds == {int} and -_INT_LIMIT < min(v) and max(v) < _INT_LIMIT):
            return False
        self.count(len(v))
        return True

    def key(self, k: Any, depth: int) -> Any:
        t = type(k)
        if t is tuple and depth < MAX_DEPTH:
            self.count(1)
            return {"$": "tuple", "v": [self.key(x, depth + 1) for x in k]}
        if t in (str, int, float, bool) or k is None:
            return self.enc(k, depth)
        raise WireError("dict keys must be str, int, float, bool, None or (not too deeply "
                        f"nested) tuples of those, got {t.__module__}.{t.__qualname__}")

    def ndarray(self, arr: np.ndarray) -> dict:
        name = _np_name(arr.dtype)
        if name is None:
            raise WireError(f"numpy arrays of dtype {arr.dtype} cannot be sent; allowed: "
                            f"{', '.join(_NP_DTYPES)}")
        flat = np.ascontiguousarray(arr, dtype=_NP_DTYPES[name]).reshape(-1).view(np.uint8)
        if name == "bool" and flat.size and flat.max() > 1:
            flat = (flat != 0).view(np.uint8)
        return {"$": "ndarray", "dtype": name, "shape": list(arr.shape), "b": self.buffer(flat)}


_JSON_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False,
                                check_circular=False).encode


def encode(value: Any, *, to_handle: ToHandle | None = None) -> tuple[bytes, list[memoryview]]:
    """Serialise ``value`` to (UTF-8 JSON header, raw buffers); buffers alias the value's memory.

    ``to_handle(obj) -> Handle`` is called for each value the format cannot represent; without
    it such a value raises WireError naming its type.
    """
    enc = _Encoder(to_handle)
    tree = enc.enc(value, 0)
    try:
        header = _JSON_ENCODE(tree).encode("utf-8")
    except (ValueError, RecursionError) as exc:
        raise WireError(f"cannot encode header: {exc}") from None
    if len(header) > MAX_HEADER_BYTES:
        raise WireError(f"header of {len(header)} bytes exceeds {MAX_HEADER_BYTES}")
    return header, enc.buffers


def _reject_constant(name: str) -> Any:
    raise WireError(f"JSON constant {name} is not allowed in a header")


def _parse_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS + 1:
        raise WireError(f"int literal with more than {MAX_INT_DIGITS} digits")
    return int(text)


def _dec_float(x: Any) -> float:
    if type(x) is float or type(x) is int:
        return float(x)
    if type(x) is dict and x.keys() == {"$", "v"} and x["$"] == "float" and \
            x["v"] in ("nan", "inf", "-inf"):
        return float(x["v"])
    raise WireError(f"expected a float, got {str(x)[:60]}")


def _is_key(k: Any) -> bool:
    if type(k) is tuple:
        return all(_is_key(x) for x in k)  # depth already bounded by the decoder
    return type(k) in (str, int, float, bool) or k is None


def _lookup(table: dict, v: Any, what: str) -> Any:
    found = table.get(v) if type(v) is str else None
    if found is None:
        raise WireError(f"{what} {str(v)[:40]!r} is not allowed")
    return found


_JSON_LEAVES = {str, int, float, bool, type(None)}
_KEYS = {
    "float": {"$", "v"}, "complex": {"$", "v"}, "tuple": {"$", "v"}, "dict": {"$", "v"},
    "bytes": {"$", "b"}, "bytearray": {"$", "b"}, "ndarray": {"$", "dtype", "shape", "b"},
    "tensor": {"$", "dtype", "shape", "grad", "b"}, "npscalar": {"$", "dtype", "hex"},
    "npdtype": {"$", "v"}, "nptype": {"$", "v"}, "torchdtype": {"$", "v"}, "slice": {"$", "v"},
    "ellipsis": {"$"}, "handle": {"$", "id", "type", "summary"},
}


class _Decoder(_Walk):
    def __init__(self, buffers: list, from_handle: FromHandle | None, copy: bool) -> None:
        self.buffers, self.from_handle, self.copy = buffers, from_handle, copy
        self.used = [False] * len(buffers)

    def take(self, index: Any, nbytes: int | None) -> np.ndarray:
        """Buffer ``index`` as a flat uint8 array (size-checked, and copied when needed)."""
        if type(index) is not int or not 0 <= index < len(self.buffers):
            raise WireError(f"buffer index {str(index)[:40]} out of range")
        if self.used[index]:
            raise WireError(f"buffer {index} referenced twice")
        self.used[index] = True
        u8 = self.buffers[index]
        if type(u8) is not np.ndarray or u8.dtype != np.uint8 or u8.ndim != 1:
            try:
                u8 = np.frombuffer(u8, dtype=np.uint8)
            except (TypeError, ValueError) as exc:
                raise WireError(f"buffer {index} is not a contiguous byte buffer: {exc}") from None
        if nbytes is not None and u8.size != nbytes:
            raise WireError(f"buffer {index} holds {u8.size} bytes, shape and dtype need {nbytes}")
        return u8.copy() if nbytes is not None and (self.copy or not u8.flags.writeable) else u8

    def dec(self, node: Any, depth: int) -> Any:
        self.count(1)
        t = type(node)
        if t is str or t is int or t is float or t is bool or node is None:
            return node
        if depth >= MAX_DEPTH:
            raise WireError(f"message nested deeper than {MAX_DEPTH} levels")
        if t is list:
            if set(map(type, node)) <= _JSON_LEAVES:  # fast path: already plain values
                self.count(len(node))
                return node
            return [self.dec(x, depth + 1) for x in node]
        tag = node.get("$")  # t is dict: json.loads makes nothing else
        if type(tag) is not str or tag not in _KEYS:
            raise WireError(f"unknown type tag {str(tag)[:40]!r}")
        if node.keys() != _KEYS[tag]:
            raise WireError(f"bad fields {sorted(node)[:8]} for tag {tag!r}")
        return self.tagged(tag, node, depth + 1)

    def seq(self, node: dict, n: int | None = None) -> list:
        v = node["v"]
        if type(v) is not list or (n is not None and len(v) != n):
            raise WireError(f"{node['$']!r} needs a list{'' if n is None else f' of {n}'}")
        return v

    def tagged(self, tag: str, node: dict, depth: int) -> Any:
        if tag == "tuple":
            return tuple([self.dec(x, depth) for x in self.seq(node)])
        if tag == "dict":
            return self.mapping(self.seq(node), depth)
        if tag == "ndarray":
            dt, shape = _lookup(_NP_DTYPES, node["dtype"], "numpy dtype"), shape_of(node["shape"])
            u8 = self.take(node["b"], math.prod(shape) * dt.itemsize)
            if dt.kind == "b":
                check_bool(u8)
            try:
                return u8.view(dt).reshape(shape)
            except (ValueError, TypeError) as exc:
                raise WireError(f"cannot build an array of shape {list(shape)}: {exc}") from None
        if tag == "tensor":
            return _torch_codec().decode(node, self.take)
        if tag == "float":
            return _dec_float(node)
        if tag == "complex":
            re, im = self.seq(node, 2)
            return complex(_dec_float(re), _dec_float(im))
        if tag == "bytes":
            return self.take(node["b"], None).tobytes()
        if tag == "bytearray":
            return bytearray(self.take(node["b"], None))
        if tag == "npscalar":
            dt, text = _lookup(_NP_DTYPES, node["dtype"], "numpy dtype"), node["hex"]
            if type(text) is not str or len(text) != 2 * dt.itemsize:
                raise WireError(f"numpy {dt} scalar needs {dt.itemsize} hex bytes")
            try:
                raw = np.frombuffer(bytes.fromhex(text), dtype=np.uint8)
            except ValueError:
                raise WireError("numpy scalar bytes are not hex") from None
            if dt.kind == "b":
                check_bool(raw)
            return raw.view(dt)[0]
        if tag == "npdtype":
            return _lookup(_NP_BY_STR, node["v"], "numpy dtype")
        if tag == "nptype":
            return _lookup(_NP_TYPES, node["v"], "numpy scalar type")
        if tag == "torchdtype":
            return _lookup(_torch_codec().DTYPES, node["v"], "torch dtype")
        if tag == "slice":
            parts = self.seq(node, 3)
            if any(p is not None and type(p) is not int for p in parts):
                raise WireError("slice bounds must be None or int")
            return slice(*parts)
        if tag == "ellipsis":
            return Ellipsis
        # tag == "handle"
        if any(type(s) is not str or len(s) > MAX_TEXT for s in (node["type"], node["summary"])):
            raise WireError(f"handle text must be a str of at most {MAX_TEXT} characters")
        handle = Handle(node["id"], node["type"], node["summary"])
        return handle if self.from_handle is None else self.from_handle(handle)

    def mapping(self, pairs: list, depth: int) -> dict:
        out: dict = {}
        same_hash: dict[int, int] = {}
        for pair in pairs:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("dict entries must be [key, value] pairs")
            key = self.dec(pair[0], depth)
            if type(key) is not str:  # str hashes are randomised; others can be made to collide
                if not _is_key(key):
                    raise WireError(f"dict key of type {type(key).__name__} is not allowed")
                if key not in out:
                    h = hash(key)
                    same_hash[h] = same_hash.get(h, 0) + 1
                    if same_hash[h] > MAX_KEY_COLLISIONS:
                        raise WireError("too many dict keys with the same hash")
            out[key] = self.dec(pair[1], depth)
        return out


def decode(header: bytes, buffers: list, *, from_handle: FromHandle | None = None,
           copy: bool = True) -> Any:
    """Rebuild a value from ``encode``'s output, treating every byte as hostile.

    ``from_handle(handle)`` maps each Handle to an object (default: the Handle itself). Arrays
    and tensors get their own copy of the bytes unless ``copy=False``, in which case writable
    flat uint8 numpy buffers are taken over as they are (``read_message`` does that).
    """
    if len(header) > MAX_HEADER_BYTES:
        raise WireError(f"header of {len(header)} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        text = str(header, "utf-8")
        # Bound what json.loads builds before it runs: "[],[]..." would cost ~30x its size.
        if text.count(",") + text.count("[") + text.count("{") > 4 * MAX_NODES:
            raise WireError(f"header has too many JSON items (values limit {MAX_NODES})")
        # Python's own int-parsing cap, when it is on and tight enough, is faster than a hook.
        limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
        tree = json.loads(text, parse_constant=_reject_constant,
                          parse_int=None if 0 < limit <= MAX_INT_DIGITS else _parse_int)
    except (ValueError, TypeError, RecursionError) as exc:
        raise WireError(f"malformed header: {str(exc)[:200]}") from None
    dec = _Decoder(list(buffers), from_handle, copy)
    value = dec.dec(tree, 0)
    if not all(dec.used):
        raise WireError(f"{dec.used.count(False)} buffer(s) not referenced by the header")
    return value


def _write_all(stream: Any, data: Any) -> None:
    view = memoryview(data)
    while view:
        n = stream.write(view)
        if n is None:
            raise WireError("the stream is non-blocking; the wire needs a blocking stream")
        view = view[n:]


def write_message(stream: Any, value: Any, *, to_handle: ToHandle | None = None,
                  max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """Encode ``value`` and frame it onto a binary stream; returns the bytes written.

    The size is checked against ``max_bytes`` before anything is written.
    """
    header, buffers = encode(value, to_handle=to_handle)
    lengths = [b.nbytes for b in buffers]
    total = _PREFIX.size + 8 * len(lengths) + len(header) + sum(lengths)
    if total > max_bytes:
        raise WireError(f"message of {total} bytes exceeds the limit of {max_bytes}")
    pending = bytearray(_PREFIX.pack(MAGIC, VERSION, 0, len(header), len(lengths)))
    pending += struct.pack(f"<{len(lengths)}Q", *lengths)
    pending += header
    try:
        for buf in buffers:
            if buf.nbytes < _COALESCE:
                pending += buf
            else:
                _write_all(stream, pending)
                _write_all(stream, buf)
                pending = bytearray()
        _write_all(stream, pending)
        if hasattr(stream, "flush"):
            stream.flush()
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise PeerClosed(f"the peer closed the stream while we were writing ({exc})",
                         mid_message=True) from None
    return total


def _read_into(stream: Any, view: memoryview, started: bool) -> None:
    got, size = 0, len(view)
    while got < size:
        try:
            n = stream.readinto(view[got:])
        except ConnectionResetError:
            n = 0
        if n is None:
            raise WireError("the stream is non-blocking; the wire needs a blocking stream")
        if n == 0:
            if started or got:
                raise PeerClosed("the peer closed the stream in the middle of a message",
                                 mid_message=True)
            raise PeerClosed("the peer closed the stream")
        got += n


def read_message(stream: Any, *, from_handle: FromHandle | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Read and decode one framed message; every length is checked before allocating.

    Raises PeerClosed on EOF. After any other WireError raised before the whole message was
    read (bad prefix, size over a cap) the stream is out of step and must be dropped.
    """
    prefix = bytearray(_PREFIX.size)
    _read_into(stream, memoryview(prefix), started=False)
    magic, version, flags, header_len, count = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise WireError(f"bad magic {bytes(magic)!r}: not a grader wire message")
    if version != VERSION or flags:
        raise WireError(f"unsupported wire version {version} / flags {flags:#x}")
    if count > MAX_BUFFERS or header_len > MAX_HEADER_BYTES:
        raise WireError(f"message claims {count} buffers and a {header_len}-byte header "
                        f"(limits: {MAX_BUFFERS} and {MAX_HEADER_BYTES})")
    total = _PREFIX.size + 8 * count + header_len
    if total > max_bytes:
        raise WireError(f"message of at least {total} bytes exceeds the limit of {max_bytes}")
    raw_lengths = bytearray(8 * count)
    _read_into(stream, memoryview(raw_lengths), started=True)
    lengths = struct.unpack(f"<{count}Q", raw_lengths)
    total += sum(lengths)
    if total > max_bytes:
        raise WireError(f"message of {total} bytes exceeds the limit of {max_bytes}")
    header = bytearray(header_len)
    _read_into(stream, memoryview(header), started=True)
    buffers = []
    for n in lengths:
        buf = np.empty(n, dtype=np.uint8)  # allocated just before it is filled
        _read_into(stream, memoryview(buf), started=True)
        buffers.append(buf)
    return decode(header, buffers, from_handle=from_handle, copy=False)
