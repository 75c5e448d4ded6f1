"""The grader's end of the RPC: ``WorkerClient`` sends requests to one sandboxed worker.

Every request carries a fresh random id that the answer must echo, so nothing the student's code
leaves behind in the pipe (a forked child, a pre-written message) can answer a later request.
Any failure (timeout, crash, garbled message) kills the worker and raises a ``SandboxError``
subclass with a plain-English reason; a new client serves the next test.
"""

from __future__ import annotations

import itertools
import os
import secrets
import select
import time
from typing import Any

from grading.rpc.errors import CallTimeout, ProtocolError, StudentError, WorkerDied
from grading.rpc.proxy import RemoteObject
from grading.rpc.wire import Handle, PeerClosed, WireError, read_message, write_message
from grading.sandbox.launcher import SandboxSpec, WorkerProcess

_generations = itertools.count(1)
RELEASE_BATCH = 256
TRANSCRIPT_CHARS = 64 * 1024


class DeadlineWriter:
    """A write-only binary stream over a pipe fd whose writes fail past a deadline."""

    def __init__(self, fd: int):
        self.fd = fd
        self.deadline = float("inf")

    def write(self, data) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0 or not select.select([], [self.fd], [], remaining)[1]:
            raise TimeoutError("the worker did not read its request in time")
        return os.write(self.fd, data)

    def writable(self) -> bool:
        return True


class WorkerClient:
    """A started worker plus the bookkeeping of one conversation with it."""

    def __init__(self, process: WorkerProcess):
        self.process = process
        self.limits = process.spec.limits
        self.generation = next(_generations)
        self.writer = DeadlineWriter(process.requests.fileno())
        self._to_release: list[int] = []
        self._transcript: list[str] = []
        self._transcript_chars = 0
        self.info: dict = {}
        self.deadline = float("inf")  # a test's overall time limit, on the monotonic clock

    # -- life cycle ---------------------------------------------------------------------------
    @classmethod
    def start(cls, spec: SandboxSpec) -> WorkerClient:
        """Start a worker for ``spec`` and wait until it has imported its preloads."""
        client = cls(WorkerProcess(spec).start())
        client.wait_ready()
        return client

    def wait_ready(self) -> None:
        """Block until the worker's hello (raises WorkerDied if it fails to start)."""
        if self.info:
            return
        hello = self._receive(0, self.limits.start_timeout_s, "starting the worker")
        self.info = hello.get("value") or {}

    @property
    def isolation(self) -> str:
        return self.process.isolation

    @property
    def alive(self) -> bool:
        return self.process.alive

    def close(self) -> None:
        """Kill the worker; every RemoteObject of this client becomes unusable."""
        self.process.kill()

    # -- the protocol -------------------------------------------------------------------------
    def request(self, op: str, *, what: str, timeout: float | None = None, **fields: Any) -> Any:
        """Send one request and return its value; raise a SandboxError subclass on failure."""
        if not self.process.alive:
            raise WorkerDied(self.process.exit_description() + " before " + what)
        if len(self._to_release) >= RELEASE_BATCH:
            ids, self._to_release = self._to_release, []
            self.request("release", what="releasing objects", ids=ids)
        seconds = self.limits.call_timeout_s if timeout is None else timeout
        seconds = min(seconds, self.deadline - time.monotonic())
        if seconds <= 0:
            self._fail_timeout(0, what + " (the test's time limit was already used up)")
        request_id = secrets.randbits(62)
        self.writer.deadline = time.monotonic() + seconds
        try:
            write_message(self.writer, {"id": request_id, "op": op, **fields},
                          to_handle=self._to_handle, max_bytes=self.limits.message_bytes)
        except TimeoutError:
            self._fail_timeout(seconds, what)
        except (BrokenPipeError, ConnectionResetError, PeerClosed):
            self._fail_died(what)
        response = self._receive(request_id, seconds, what)
        if not response.get("ok"):
            error = response.get("error") or {}
            raise StudentError(str(error.get("type", "Exception")), str(error.get("message", "")),
                               str(error.get("traceback", "")), self.take_output())
        return response.get("value")

    def _receive(self, request_id: int, seconds: float, what: str) -> dict:
        self.process.responses.deadline = time.monotonic() + seconds
        try:
            response = read_message(self.process.responses, from_handle=self._from_handle,
                                    max_bytes=self.limits.message_bytes)
        except TimeoutError:
            self._fail_timeout(seconds, what)
        except PeerClosed:
            self._fail_died(what)
        except WireError as exc:
            self.close()
            raise ProtocolError(f"{exc} (while {what})", self.take_output()) from None
        if not isinstance(response, dict) or response.get("id") != request_id:
            self.close()
            raise ProtocolError(f"an answer that does not match the request (while {what})",
                                self.take_output())
        for key in ("stdout", "stderr"):
            if isinstance(response.get(key), str) and response[key]:
                self._record(response[key])
        return response

    def _fail_died(self, what: str):
        description = self.process.exit_description()  # before close(), which kills
        self.close()
        raise WorkerDied(f"{description} while {what}", self.take_output()) from None

    def _fail_timeout(self, seconds: float, what: str):
        self.close()
        raise CallTimeout(seconds, what, self.take_output()) from None

    def _to_handle(self, obj: object) -> Handle:
        if isinstance(obj, RemoteObject):
            if obj._rpc_generation != self.generation:
                raise WireError("an object from an earlier worker (restarted after a failure) "
                                "cannot be sent to this one")
            return obj._rpc_handle
        raise WireError(f"a {type(obj).__name__} cannot be sent to the sandbox; send arrays, "
                        "numbers, strings, containers or remote objects")

    def _from_handle(self, handle: Handle) -> RemoteObject:
        return RemoteObject(self, handle)

    def forget(self, handle_id: int) -> None:
        """Called when a RemoteObject is garbage-collected: release it with the next batch."""
        self._to_release.append(handle_id)

    # -- captured output ----------------------------------------------------------------------
    def _record(self, text: str) -> None:
        room = TRANSCRIPT_CHARS - self._transcript_chars
        if room > 0:
            self._transcript.append(text[:room])
        self._transcript_chars += len(text)

    def take_output(self) -> str:
        """The student's captured stdout/stderr since the last call of this method."""
        for drain in (self.process.stdout, self.process.stderr):
            text = drain.take()
            if text:
                self._record(text)
        text = "".join(self._transcript)
        if self._transcript_chars > TRANSCRIPT_CHARS:
            text += f"\n[... {self._transcript_chars - TRANSCRIPT_CHARS} more characters dropped]"
        self._transcript, self._transcript_chars = [], 0
        return text

    # -- conveniences -------------------------------------------------------------------------
    def load_submission(self, files: dict[str, bytes], module: str = "submission"
                        ) -> RemoteObject:
        """Copy ``files`` into the sandbox's scratch folder and import ``module`` from there."""
        return self.request("load", files=files, module=module, what=f"importing {module}.py")

    def import_module(self, name: str) -> RemoteObject:
        """Import one of the lab's fixed modules (or a library) in the sandbox."""
        return self.request("import", name=name, what=f"importing {name}")
