"""The sandboxed worker: runs student code on behalf of the grader. Runs INSIDE the sandbox.

Started as ``python -m grading.sandbox.worker CONFIG_JSON``; the config names the request and
response pipe fds. It pre-imports the heavy libraries, drops privileges, applies its limits,
says it is ready, and then serves requests until the pipe closes:

    {"id": n, "op": "load", "files": {"submission.py": b"..."}}        -> Handle of the module
    {"id": n, "op": "import", "name": "train"}                          -> Handle of a fixed module
    {"id": n, "op": "getattr", "target": Handle, "name": "means"}       -> value or Handle
    {"id": n, "op": "setattr", "target": Handle, "name": "pi", "value": v}
    {"id": n, "op": "call", "target": Handle, "args": [...], "kwargs": {...}}
    {"id": n, "op": "keep", "value": v}                                 -> Handle of a Kept value
    {"id": n, "op": "release", "ids": [...]}

Each response is ``{"id": n, "ok": bool, "value"|"error": ..., "stdout": str, "stderr": str}``;
the worker sends its captured output through its stdout/stderr pipes instead, so those two
are empty there (what the student printed survives a crash or a timeout of the call).
Values cross as plain data (``grading.rpc.wire``); every other object stays here behind a Handle.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import io
import json
import os
import signal
import sys
import sysconfig
import traceback
import types
from pathlib import Path

from grading.rpc.wire import Handle, PeerClosed, read_message, write_message
from grading.sandbox import procfs
from grading.sandbox.limits import SandboxLimits, apply_rlimits

TRACEBACK_CHARS = 4000
# Folders of our own code, whose frames are hidden from tracebacks (exact folders: a student's
# file is not hidden because some folder of theirs happens to be named "grading/sandbox").
WORKER_FILES = tuple(os.path.join(os.path.dirname(os.path.abspath(path)), "")
                     for path in (__file__, sys.modules[Handle.__module__].__file__))


class CappedText(io.TextIOBase):
    """A text sink that keeps the first ``cap`` characters and counts the rest.

    With ``fd``, the kept text goes straight to that file descriptor (the worker's stdout or
    stderr pipe, drained by the grader) instead of being held here: what the student's code
    printed then survives a crash or a timeout of the call, in order with what it wrote to the
    fd itself. ``finish`` adds the note on what was dropped.
    """

    def __init__(self, cap: int, fd: int | None = None):
        self.cap, self.fd = cap, fd
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self.fd is None:
            return super().fileno()
        return self.fd

    def write(self, text) -> int:
        text = str(text)
        room = self.cap - self.kept
        if room > 0:
            self._keep(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def _keep(self, text: str) -> None:
        if self.fd is None:
            self.parts.append(text)
            return
        data = memoryview(text.encode("utf-8", "replace"))
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:  # the student closed the fd, or the grader is gone
            pass

    def _note(self) -> str:
        return f"\n[... {self.dropped} more characters dropped]" if self.dropped else ""

    def finish(self) -> None:
        """Write the note on dropped characters to ``fd`` (when there is one)."""
        if self.fd is not None and self.dropped:
            self._keep(self._note() + "\n")

    def getvalue(self) -> str:
        """What was kept here (nothing when it went to ``fd``), with the note."""
        return "" if self.fd is not None else "".join(self.parts) + self._note()


class Kept:
    """A value the grader sent once (op "keep") to pass to many calls: each call gets its own
    copy, so what one call changes in place never reaches the next."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Worker:
    """The handle table and the request handlers."""

    def __init__(self, scratch: Path, output_cap: int,
                 output_fds: tuple[int, int] | tuple[None, None] = (None, None)):
        self.scratch = scratch
        self.output_cap = output_cap
        self.output_fds = output_fds  # (1, 2) in the worker: output goes to the drained pipes
        self.objects: dict[int, object] = {}
        self.ids_by_object: dict[int, int] = {}
        self.refs: dict[int, int] = {}  # handles of each id sent and not released yet
        self.next_id = 1

    # -- handles ---------------------------------------------------------------------------
    def to_handle(self, obj: object) -> Handle:
        """A Handle for ``obj``; the same object always gets the same id.

        Each Handle sent becomes one grader-side object that releases it once, so an id is
        dropped only when every Handle sent for it was released.
        """
        handle_text = _type_name(obj), _summary(obj)
        key = id(obj)
        if key not in self.ids_by_object:
            self.ids_by_object[key] = self.next_id
            self.objects[self.next_id] = obj
            self.next_id += 1
        hid = self.ids_by_object[key]
        self.refs[hid] = self.refs.get(hid, 0) + 1
        return Handle(hid, *handle_text)

    def from_handle(self, handle: Handle) -> object:
        if handle.id not in self.objects:
            raise LookupError(f"handle {handle.id} ({handle.type_name}) was released or never "
                              "existed in this worker")
        return self.objects[handle.id]

    def resolve(self, value):
        """Replace every Handle inside ``value`` (nested lists, tuples, dicts) by its object;
        a :class:`Kept` value by a fresh copy of it."""
        if isinstance(value, Handle):
            obj = self.from_handle(value)
            return copy.deepcopy(obj.value) if type(obj) is Kept else obj
        if isinstance(value, list | tuple):
            return type(value)(self.resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def release(self, ids: list[int]) -> None:
        for hid in ids:
            if hid not in self.objects:
                continue
            self.refs[hid] = self.refs.get(hid, 1) - 1
            if self.refs[hid] <= 0:
                del self.refs[hid]
                obj = self.objects.pop(hid)
                self.ids_by_object.pop(id(obj), None)
                del obj  # the student's __del__ may run here

    # -- operations ------------------------------------------------------------------------
    def op_load(self, files: dict, module: str = "submission") -> object:
        for name, data in files.items():
            target = (self.scratch / name).resolve()
            if self.scratch.resolve() not in target.parents:
                raise ValueError(f"refusing to write {name!r} outside the scratch folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        path = self.scratch / f"{module}.py"
        spec = importlib.util.spec_from_file_location(module, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {module} from {path.name}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[module] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            sys.modules.pop(module, None)
            raise
        return mod

    def op_import(self, name: str) -> object:
        return importlib.import_module(name)

    def op_getattr(self, target, name: str) -> object:
        return getattr(target, name)

    def op_setattr(self, target, name: str, value) -> None:
        setattr(target, name, value)

    def op_call(self, target, args=(), kwargs=None) -> object:
        return target(*args, **(kwargs or {}))

    def op_keep(self, value) -> Kept:
        return Kept(value)

    def handle(self, request: dict) -> dict:
        """Run one request with stdout/stderr captured; never raises."""
        op = request.get("op")
        method = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        out, err = (CappedText(self.output_cap, fd) for fd in self.output_fds)
        response: dict = {"id": request.get("id")}
        if op == "release":
            self.release(list(request.get("ids", [])))
            response.update(ok=True, value=None)
            return response
        if method is None:
            response.update(ok=False, error=_error_dict(ValueError(f"unknown op {op!r}")))
            return response
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            args = self.resolve({k: v for k, v in request.items() if k not in ("id", "op")})
            value = method(**args)
            response.update(ok=True, value=value)
        except BaseException as exc:  # noqa: BLE001 - the student's code may raise anything
            response.update(ok=False, error=_error_dict(exc))
        finally:
            sys.stdout, sys.stderr = saved
            out.finish()
            err.finish()
        response.update(stdout=out.getvalue(), stderr=err.getvalue())
        return response


def _type_name(obj: object) -> str:
    """``module.Class`` of ``obj``, from ``type(obj)`` only (``isinstance`` would read the
    student's ``__class__``, which may be a property that does anything)."""
    cls = type(obj)
    if issubclass(cls, types.ModuleType):
        return _text(lambda: f"module {types.ModuleType.__getattribute__(obj, '__name__')}")
    return _text(lambda: f"{cls.__module__}.{cls.__qualname__}")


def _summary(obj: object) -> str:
    """A description that runs no student code (no repr of their objects)."""
    cls = type(obj)
    if issubclass(cls, types.ModuleType):
        return _type_name(obj)
    if issubclass(cls, type | types.FunctionType | types.MethodType | types.BuiltinFunctionType):
        return _text(lambda: getattr(obj, "__qualname__", getattr(obj, "__name__", "a function")))
    return _text(lambda: f"a {cls.__qualname__} object")


def _text(make) -> str:
    """``str(make())`` cut to 200 characters, or a placeholder when that fails."""
    try:
        text = make()
        return (text if type(text) is str else "an object")[:200]
    except Exception:  # noqa: BLE001 - a name computed by the student's code
        return "an object"

# Folders whose frames keep only a short name in tracebacks: the student sees
# "<site-packages>/torch/nn/modules/module.py", not where the grader's machine installed it.
SHORT_FOLDERS = tuple(sorted({
    (os.path.join(sysconfig.get_paths()[key], ""), name)
    for key, name in (("purelib", "<site-packages>/"), ("platlib", "<site-packages>/"),
                      ("stdlib", "<python>/"), ("platstdlib", "<python>/"))
} | {(os.path.join(str(Path(__file__).resolve().parents[2]), ""), "")},
    key=lambda pair: -len(pair[0])))


def _short_path(filename: str) -> str:
    """``filename`` with the folder of an installed library, of Python or of the labs cut to a
    short name (the grader's own paths are not the student's business)."""
    for folder, name in SHORT_FOLDERS:
        if filename.startswith(folder):
            return name + filename[len(folder):]
    return filename


def _error_dict(exc: BaseException) -> dict:
    """What the grader learns of an exception: its type, message and traceback without our
    frames. Never raises, whatever the exception's ``__str__`` or attributes do."""
    type_name = type(exc).__name__[:200]
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not os.path.abspath(f.filename).startswith(WORKER_FILES)
                  and not f.filename.startswith("<frozen ")]  # the import machinery's
        for frame in frames:
            frame.filename = _short_path(frame.filename)
        text = "".join(traceback.format_list(frames))
        text += "".join(traceback.format_exception_only(type(exc), exc))
        # "submission.py", as the student knows it, not "/scratch/submission.py"
        text = text.replace(os.path.join(os.getcwd(), ""), "")
    except Exception:  # noqa: BLE001 - e.g. a __notes__ property that raises
        text = f"{type_name}: <the traceback could not be shown>\n"
    if len(text) > TRACEBACK_CHARS:
        text = "[...]\n" + text[-TRACEBACK_CHARS:]
    try:
        message = str(exc)[:2000]
    except Exception:  # noqa: BLE001 - a student's __str__ may itself raise
        message = "<the exception's message could not be shown>"
    return {"type": type_name, "message": message, "traceback": text}


def die_with_parent(parent_pid: int | None) -> None:
    """Have the kernel SIGKILL this worker when the grader dies (process level; bwrap does the
    same for its whole PID namespace). Exits at once when the grader is already gone."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def become_subreaper() -> None:
    """Have orphans of the student's processes re-parented to this worker (process level), so
    that it reaps them and their CPU time stays in the sandbox's account (``cutime``)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def kill_strays(own_uid_only: bool) -> int:
    """Kill every other process of this sandbox: of this PID namespace but its init (bwrap
    level), or of this worker's dedicated uid (process level as root, ``own_uid_only``)."""
    me, uid = os.getpid(), os.getuid()
    return procfs.kill_matching(
        lambda pid, owner: pid not in (1, me) and (owner == uid or not own_uid_only),
        before_pass=_reap_children)


def _reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def drop_privileges(uid: int) -> None:
    """Become ``uid`` for good (root only): no groups, no capabilities left."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise RuntimeError("could not drop privileges")


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    if not config.get("pid_namespace", False):
        die_with_parent(config.get("parent_pid"))
        become_subreaper()
    limits = SandboxLimits(**config["limits"])
    scratch = Path(config["scratch"])
    for name in config.get("preload", []):
        importlib.import_module(name)
    if "torch" in sys.modules and limits.threads > 0:
        sys.modules["torch"].set_num_threads(limits.threads)
    uid = config.get("uid")
    in_pid_namespace = config.get("pid_namespace", False)
    if uid is not None and os.getuid() == 0:
        drop_privileges(int(uid))
        if not in_pid_namespace:  # a change of uid cleared the parent-death signal
            die_with_parent(config.get("parent_pid"))
    apply_rlimits(limits, include_nproc=config.get("nproc", False))
    os.chdir(scratch)
    sys.path.append(str(scratch))
    requests = os.fdopen(config["request_fd"], "rb", buffering=0)
    responses = os.fdopen(config["response_fd"], "wb", buffering=0)
    worker = Worker(scratch, limits.output_bytes, output_fds=(1, 2))
    # strays: the PID namespace's, or the dedicated uid's; else they would be the grader's kin
    sweep = in_pid_namespace or (uid is not None and os.getuid() == int(uid))
    write_message(responses, {"id": 0, "ok": True, "value": {"pid": os.getpid(),
                                                           "uid": os.getuid()}})
    while True:
        try:
            request = read_message(requests, max_bytes=limits.message_bytes)
        except PeerClosed:
            return 0
        response = worker.handle(request if isinstance(request, dict) else {"op": None})
        if sweep:
            kill_strays(own_uid_only=not in_pid_namespace)
        try:
            write_message(responses, response, to_handle=worker.to_handle,
                          max_bytes=limits.message_bytes)
        except Exception as exc:  # noqa: BLE001 - e.g. a value too large for the wire
            fallback = {"id": response["id"], "ok": False, "error": _error_dict(exc),
                        "stdout": response.get("stdout", ""), "stderr": response.get("stderr", "")}
            write_message(responses, fallback, to_handle=worker.to_handle,
                          max_bytes=limits.message_bytes)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
