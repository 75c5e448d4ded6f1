"""Errors the grader sees when it talks to a sandboxed worker."""

from __future__ import annotations


class SandboxError(Exception):
    """Base class: something went wrong on the student's side of the sandbox."""

    reason = "the submission could not be run"


class StudentError(SandboxError):
    """The student's code raised; carries the type, message and (truncated) traceback text."""

    def __init__(self, type_name: str, message: str, traceback: str, stdout: str = ""):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.traceback, self.stdout = (
            type_name, message, traceback, stdout)

    @property
    def reason(self) -> str:  # type: ignore[override]
        if self.type_name == "NotImplementedError":
            return ("not implemented yet (the stub still raises NotImplementedError: "
                    f"{self.message[:200]})")
        return f"your code raised {self.type_name}: {self.message[:300]}"


class RemoteAttributeError(StudentError, AttributeError):
    """Reading an attribute raised AttributeError in the sandbox.

    Also an ``AttributeError``, so ``hasattr(remote, name)`` and ``getattr(remote, name,
    default)`` work on remote objects as they do on local ones.
    """


class WorkerDied(SandboxError):
    """The worker process ended during a call (crash, exit, out of memory, killed)."""

    def __init__(self, description: str, stdout: str = ""):
        super().__init__(description)
        self.description, self.stdout = description, stdout

    @property
    def reason(self) -> str:  # type: ignore[override]
        return f"your code stopped the worker process: {self.description}"


class CallTimeout(WorkerDied):
    """A call ran past its time limit; the worker was killed.

    ``description`` names the call, the limit and the time used; ``seconds`` is the limit.
    """

    def __init__(self, seconds: float, what: str, stdout: str = "", description: str = ""):
        super().__init__(description or f"{what} did not finish within {seconds:.1f} s", stdout)
        self.seconds = seconds

    @property
    def reason(self) -> str:  # type: ignore[override]
        return f"timed out: {self.description}"


class ProtocolError(WorkerDied):
    """The worker sent something that is not a valid answer (a forged or garbled message)."""

    @property
    def reason(self) -> str:  # type: ignore[override]
        return f"the worker sent an invalid message and was stopped: {self.description}"
