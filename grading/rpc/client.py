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
import time
from typing import Any

from grading.rpc.budget import TimeBudget
from grading.rpc.errors import (
    CallTimeout,
    ProtocolError,
    RemoteAttributeError,
    StudentError,
    WorkerDied,
)
from grading.rpc.proxy import RemoteObject
from grading.rpc.wire import Handle, PeerClosed, WireError, read_message, write_message
from grading.sandbox.launcher import CpuLimitReached, SandboxSpec, WorkerProcess, wait_for_fd

_generations = itertools.count(1)
RELEASE_BATCH = 256
TRANSCRIPT_CHARS = 64 * 1024
MAX_TYPE_CHARS, MAX_MESSAGE_CHARS, MAX_TRACEBACK_CHARS = 200, 2000, 8000  # of a StudentError


def _tail(text: str, cap: int) -> str:
    return text if len(text) <= cap else "[...]\n" + text[-cap:]


class DeadlineWriter:
    """A write-only binary stream over a pipe fd whose writes fail past a deadline.

    The fd is made non-blocking: a blocking write of more than the pipe holds would wait for
    the worker to read it, however long that takes (a worker stuck in a student's ``__del__``
    during garbage collection, say), so writes go in pieces as room appears.
    """

    def __init__(self, fd: int):
        os.set_blocking(fd, False)
        self.fd = fd
        self.deadline = float("inf")

    def write(self, data) -> int:
        while True:
            if not wait_for_fd(self.fd, True, self.deadline):
                raise TimeoutError("the worker did not read its request in time")
            try:
                return os.write(self.fd, data)
            except BlockingIOError:
                continue

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
        self.budget: TimeBudget | None = None  # the current test's time limit, if any

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
        seconds = self.limits.start_timeout_s
        hello = self._receive(0, time.monotonic() + seconds, "starting the worker", seconds)
        value = hello.get("value")
        self.info = value if type(value) is dict and value else {"ready": True}
        self.process.control.attach()
        self.process.control.freeze()

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
        """Send one request and return its value; raise a SandboxError subclass on failure.

        Inside a test (``self.budget`` set) the call may use what is left of the test's time
        limit (CPU time of the sandbox, and the wall-clock backstop); outside one, or with an
        explicit ``timeout``, wall-clock seconds (``call_timeout_s`` by default).
        """
        if not self.process.alive:
            raise WorkerDied(self.process.exit_description() + " before " + what)
        if len(self._to_release) >= RELEASE_BATCH:
            ids, self._to_release = self._to_release, []
            self.request("release", what="releasing objects", ids=ids)
        now = time.monotonic()
        budget = self.budget
        wall_deadline = now + (self.limits.call_timeout_s if timeout is None else timeout)
        if budget is not None:
            wall_deadline = budget.wall_deadline if timeout is None else min(
                wall_deadline, budget.wall_deadline)
            if budget.cpu_left_s <= 0 or budget.wall_deadline <= now:
                self._fail_timeout(0, what, self._budget_words(budget, what, used_up=True))
        if wall_deadline <= now:
            self._fail_timeout(0, what)
        request_id = secrets.randbits(62)
        control = self.process.control
        control.thaw()
        cpu_start = control.cpu_seconds()
        self.writer.deadline = wall_deadline  # one deadline for sending and answering
        try:
            try:
                write_message(self.writer, {"id": request_id, "op": op, **fields},
                              to_handle=self._to_handle, max_bytes=self.limits.message_bytes)
            except TimeoutError:
                self._fail_timeout(wall_deadline - now, what, self._budget_words(budget, what))
            except (BrokenPipeError, ConnectionResetError, PeerClosed):
                self._fail_died(what)
            cpu_left = budget.cpu_left_s if budget is not None else float("inf")
            response = self._receive(request_id, wall_deadline, what, wall_deadline - now,
                                     over_cpu=lambda: control.cpu_seconds(thorough=True)
                                     - cpu_start > cpu_left, budget=budget)
        finally:
            if budget is not None and self.process.alive:
                budget.cpu_used_s += max(0.0, control.cpu_seconds() - cpu_start)
            control.freeze()
        if response["ok"]:
            return response.get("value")
        error = response.get("error")
        if not isinstance(error, dict) or not all(
                isinstance(error.get(key, ""), str) for key in ("type", "message", "traceback")):
            self._fail_protocol(f"an error answer without type, message and traceback text "
                                f"(while {what})")
        type_name = error.get("type", "Exception")[:MAX_TYPE_CHARS] or "Exception"
        error_class = (RemoteAttributeError if op == "getattr" and type_name == "AttributeError"
                       else StudentError)
        raise error_class(type_name, error.get("message", "")[:MAX_MESSAGE_CHARS],
                          _tail(error.get("traceback", ""), MAX_TRACEBACK_CHARS),
                          self.take_output())

    def cpu_seconds(self) -> float:
        """CPU seconds the sandbox has used so far (all its processes and threads)."""
        return self.process.control.cpu_seconds(thorough=True)

    @staticmethod
    def _budget_words(budget: TimeBudget | None, what: str, used_up: bool = False,
                      cpu: bool = False) -> str:
        """What a timeout says: the call, the test's limit and the time used."""
        if budget is None:
            return ""
        used = f"{budget.cpu_used_s:.1f} s of CPU time used in this test"
        if used_up:
            return (f"{what} could not start: the test's time limit of {budget.limit_s:g} s "
                    f"was already used up ({used})")
        if cpu:
            return (f"{what} used up the test's time limit of {budget.limit_s:g} s of CPU time "
                    f"({used}, this call included)")
        return (f"{what} was stopped after {budget.wall_limit_s:g} s of wall-clock time "
                f"({budget.wall_factor:g}x the test's limit of {budget.limit_s:g} s of CPU time; "
                f"{budget.cpu_used_s:.1f} s of CPU used): it waits (sleep, a lock, a pipe) "
                "instead of computing")

    def _receive(self, request_id: int, deadline: float, what: str,
                 seconds: float | None = None, over_cpu=None,
                 budget: TimeBudget | None = None) -> dict:
        reader = self.process.responses
        reader.deadline, reader.over_limit = deadline, over_cpu
        try:
            response = read_message(reader, from_handle=self._from_handle,
                                    max_bytes=self.limits.message_bytes)
        except CpuLimitReached:
            if budget is not None:
                budget.cpu_used_s = budget.limit_s
            self._fail_timeout(seconds or 0.0, what,
                               self._budget_words(budget, what, cpu=True))
        except TimeoutError:
            self._fail_timeout(seconds if seconds is not None else 0.0, what,
                               self._budget_words(budget, what))
        except PeerClosed:
            self._fail_died(what)
        except WireError as exc:
            self._fail_protocol(f"{exc} (while {what})")
        finally:
            reader.over_limit = None
        # Any valid message may arrive (the student's code can forge one): check its shape
        # with exact types only, never with ``==`` or truth tests on values it holds.
        if (type(response) is not dict or type(response.get("id")) is not int
                or response["id"] != request_id or type(response.get("ok")) is not bool):
            self._fail_protocol(f"an answer that does not match the request (while {what})")
        for key in ("stdout", "stderr"):
            if type(response.get(key)) is str and response[key]:
                self._record(response[key])
        return response

    def _fail_protocol(self, description: str):
        self.close()
        raise ProtocolError(description, self.take_output()) from None

    def _fail_died(self, what: str):
        description = self.process.exit_description()  # before close(), which kills
        self.close()
        raise WorkerDied(f"{description} while {what}", self.take_output()) from None

    def _fail_timeout(self, seconds: float, what: str, description: str = ""):
        self.close()
        raise CallTimeout(seconds, what, self.take_output(), description) from None

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
        """Copy ``files`` into the sandbox's scratch folder and import ``module`` from there,
        within ``import_timeout_s`` of wall-clock time (work done at import time belongs under
        ``if __name__ == "__main__":``)."""
        return self.request("load", files=files, module=module, what=f"importing {module}.py",
                            timeout=self.limits.import_timeout_s)

    def keep(self, value: Any) -> RemoteObject:
        """Send ``value`` (plain data: arrays, numbers, containers) to the sandbox once. The
        RemoteObject returned stands for it as an argument of later calls, each of which gets
        its own copy there: a large input used by many calls crosses the wire once, and a call
        that changes its argument in place changes nothing for the next."""
        return self.request("keep", value=value, what="sending an input to the sandbox")

    def import_module(self, name: str) -> RemoteObject:
        """Import one of the lab's fixed modules (or a library) in the sandbox."""
        return self.request("import", name=name, what=f"importing {name}")
