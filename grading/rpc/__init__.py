"""RPC between the trusted grader and the sandboxed worker: ``wire`` is the message format."""

from grading.rpc.wire import (
    DEFAULT_MAX_BYTES,
    Handle,
    PeerClosed,
    WireError,
    decode,
    encode,
    read_message,
    write_message,
)

__all__ = [
    "DEFAULT_MAX_BYTES", "Handle", "PeerClosed", "WireError",
    "decode", "encode", "read_message", "write_message",
]
