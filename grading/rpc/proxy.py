"""``RemoteObject``: a grader-side stand-in for an object that lives in the sandbox.

Attribute reads come back as plain values (arrays, numbers, ...) or as further RemoteObjects;
calls run in the sandbox. A RemoteObject never compares equal to anything but itself, so a
student's object cannot pretend to be the expected answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grading.rpc.wire import Handle

if TYPE_CHECKING:
    from grading.rpc.client import WorkerClient

_OWN = ("_rpc_client", "_rpc_handle", "_rpc_generation")


class RemoteObject:
    """A reference to ``handle`` in the worker behind ``client``."""

    __slots__ = _OWN + ("__weakref__",)

    def __init__(self, client: WorkerClient, handle: Handle):
        object.__setattr__(self, "_rpc_client", client)
        object.__setattr__(self, "_rpc_handle", handle)
        object.__setattr__(self, "_rpc_generation", client.generation)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") or name in _OWN:
            # keep copy/pickle/inspect probing local; an own slot is unset only in an object
            # that was never initialised, where asking the sandbox would recurse
            raise AttributeError(name)
        return self._rpc_client.request("getattr", target=self._rpc_handle, name=name,
                                        what=f"reading {self._rpc_label}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._rpc_client.request("setattr", target=self._rpc_handle, name=name, value=value,
                                 what=f"setting {self._rpc_label}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._rpc_client.request("call", target=self._rpc_handle, args=list(args),
                                        kwargs=kwargs, what=f"calling {self._rpc_label}")

    def __getitem__(self, key: Any) -> Any:
        getter = self._rpc_client.request("getattr", target=self._rpc_handle,
                                          name="__getitem__", what=f"indexing {self._rpc_label}")
        return getter(key)

    def __del__(self) -> None:
        client = getattr(self, "_rpc_client", None)
        if client is not None and self._rpc_generation == client.generation:
            client.forget(self._rpc_handle.id)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(f"{self!r} lives in the sandbox and cannot be copied or pickled in the "
                        "grader; copy it there (call a method of it) or read its values")

    @property
    def _rpc_label(self) -> str:
        return self._rpc_handle.summary

    def __len__(self) -> int:
        size = self._rpc_client.request("getattr", target=self._rpc_handle, name="__len__",
                                        what=f"len({self._rpc_label})")()
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise TypeError(f"len() of a remote object returned {size!r:.60}")
        return size

    def __iter__(self):
        raise TypeError(f"a remote {self._rpc_handle.type_name} cannot be iterated from the "
                        "grader; have the sandbox build a list (a list comes back as a value)")

    def __repr__(self) -> str:
        return f"<remote {self._rpc_handle.type_name} #{self._rpc_handle.id}>"

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other

    def __bool__(self) -> bool:
        return True


def kept_beside(obj: Any, value: Any) -> Any:
    """``value`` kept in the sandbox of ``obj`` when ``obj`` is a RemoteObject (see
    :meth:`WorkerClient.keep`: it crosses the wire once, and each call gets its own copy);
    ``value`` itself beside a local ``obj`` (a module under test in the grader's own tests)."""
    if isinstance(obj, RemoteObject):
        return obj._rpc_client.keep(value)
    return value
