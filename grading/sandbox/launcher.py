"""Starting and stopping sandboxed workers (grader side).

Two isolation levels, the strongest available is used and recorded in every result:

* ``bwrap``: bubblewrap with private network, PID, IPC and UTS namespaces; a file system made of
  read-only system folders, the Python install, the lab's public files (``instructor/`` and the
  stub masked) and an in-memory ``/scratch`` as the only writable place; a dedicated uid when the
  grader runs as root; rlimits; killed with its whole PID namespace.
* ``process``: a plain child process in its own session with the same rlimits; no file-system or
  network isolation. Used only where bubblewrap is missing or cannot create namespaces. When the
  grader runs as root the worker gets a dedicated unprivileged uid, so the process limit holds,
  the grader's files and processes are out of reach, and its strays are killed. Where no such
  uid can read the Python install and the repository, the worker is refused with a message that
  says how to fix it (:class:`SandboxRefused`): student code never runs as root.

Under either level the grader watches the sandbox from outside (:mod:`grading.sandbox.control`):
its CPU time, a pause between calls, and a control group's memory limit where it may make one.
The datasets that tests grade against (:mod:`grading.hidden_data`) are masked under bubblewrap;
at the process level they must be unreadable by other uids (the autograder's setup does that).
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import math
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from common.threads import thread_env
from grading.hidden_data import hidden_paths
from grading.sandbox import procfs
from grading.sandbox.cgroups import WorkerCgroup
from grading.sandbox.control import SandboxControl
from grading.sandbox.limits import SandboxLimits

ISOLATION_LEVELS = ("bwrap", "process")
REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PACKAGES = ("grading/rpc", "grading/sandbox")
SANDBOX_ROOT = "/grader"  # inside the sandbox: /grader/runtime, /grader/labs, /grader/data
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DRAIN_NOTE_ROOM = 256  # drain bytes beyond output_bytes, for the worker's "N more dropped" note
UID_BASE = 200_000  # sandbox uids (root grader only): UID_BASE and up
WORKER_PYTHON_ENV = "LABS_WORKER_PYTHON"
_uid_counter = itertools.count()
_live_workers: set[WorkerProcess] = set()  # started and not killed yet


@atexit.register
def kill_live_workers() -> None:
    """Kill the workers still running when the grader exits (a spare nobody closed, a run
    interrupted mid-test), so none outlives it and no scratch folder is left behind."""
    for worker in list(_live_workers):
        worker.kill()


@dataclass(frozen=True)
class SandboxSpec:
    """What a worker sees and may use.

    lab_dir: the lab folder whose public files (fixed scripts, model code) the worker may import.
    data_dir: a dataset cache mounted read-only (``LABS_DATA_DIR``); None for none.
    preload: modules imported before the worker says it is ready (the warm start).
    isolation: "auto" (the strongest that works), "bwrap" or "process".
    """

    lab_dir: Path | None = None
    data_dir: Path | None = None
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    preload: tuple[str, ...] = ("numpy",)
    isolation: str = "auto"


@functools.cache
def _hidden_dirs() -> tuple[Path, ...]:
    """:func:`grading.hidden_data.hidden_paths`, found once per grader process."""
    return tuple(hidden_paths())


@functools.cache
def bwrap_works() -> bool:
    """True when bubblewrap is installed and can create the namespaces we use."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False
    probe = [exe, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent",
             "--", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose_isolation(requested: str = "auto") -> str:
    """The isolation level to use for ``requested`` ("auto", "bwrap" or "process")."""
    if requested not in ("auto", *ISOLATION_LEVELS):
        raise ValueError(f"isolation must be auto, bwrap or process; received {requested!r}.")
    if requested == "process":
        return "process"
    if bwrap_works():
        return "bwrap"
    if requested == "bwrap":
        raise RuntimeError("isolation 'bwrap' was requested but bubblewrap is missing or cannot "
                           "create namespaces here. Install it (apt-get install bubblewrap) or "
                           "use --isolation auto to fall back to plain processes.")
    return "process"


class SandboxRefused(RuntimeError):
    """No isolation here keeps student code off uid 0; the message says how to fix that."""


def worker_python() -> str:
    """The Python that runs process-level workers: ``$LABS_WORKER_PYTHON`` when set (a Python
    that every user may run, seeing the same packages), else this one. (Under bubblewrap the
    worker runs this one: the sandbox mounts it where its uid can read it.)"""
    return os.environ.get(WORKER_PYTHON_ENV) or python_executable()


def process_level_problem(spec: SandboxSpec) -> str | None:
    """Why a root grader cannot run the process-level workers of ``spec`` as an unprivileged
    uid (the message says how to fix it), or None when it can (or the grader is not root).

    The uid must be able to run the worker's Python and read the grader's code, the installed
    packages, the lab and the data.
    """
    if os.getuid() != 0:
        return None
    paths = [worker_python(), str(REPO_ROOT), sysconfig.get_paths()["purelib"],
             sysconfig.get_paths()["platlib"]]
    paths += [str(p) for p in (spec.lab_dir, spec.data_dir) if p is not None and p.exists()]
    unreadable = _unreadable_by_others(tuple(dict.fromkeys(paths)))
    if unreadable is not None:
        return (f"isolation 'process' runs student code as an unprivileged uid, and no such uid "
                f"can read {unreadable}; student code never runs as root, so nothing was graded. "
                f"Fix one of: install bubblewrap (apt-get install bubblewrap), whose sandbox "
                f"mounts the interpreter for the uid; let others read it (chmod o+rX on it and on "
                f"every folder above it); or set {WORKER_PYTHON_ENV} to a Python every user may "
                f"run that sees the same packages.")
    if spec.lab_dir is None or not (spec.lab_dir / "instructor").exists():
        return None  # nothing to grade against: the public tests of a handout, say
    secret = [spec.lab_dir / "instructor", *_hidden_dirs()]
    readable = _readable_by_others(worker_python(), tuple(str(p) for p in secret if p.exists()))
    if readable is None:
        return None
    return (f"isolation 'process' cannot hide files, and an unprivileged uid can read "
            f"{readable}, which the tests grade against (hidden tests, or a dataset's labels); "
            f"nothing was graded. Fix one of: install bubblewrap (apt-get install bubblewrap), "
            f"whose sandbox masks it; or make it root-only (chown -R root: and chmod -R go-rwx "
            f"on it), as the Gradescope autograder's setup.sh does for instructor/ and for every "
            f"folder of grading/hidden_data.py.")


def require_unprivileged_workers(spec: SandboxSpec) -> None:
    """Raise :class:`SandboxRefused` when the workers of ``spec`` could only run as root."""
    if choose_isolation(spec.isolation) == "process":
        problem = process_level_problem(spec)
        if problem:
            raise SandboxRefused(problem)


def _first_for_others(python: str, paths: tuple[str, ...], condition: str) -> str | None:
    """The first of ``paths`` for which ``condition`` (a Python expression of the path ``p``)
    holds for an unprivileged uid with no groups, probed by running ``python`` as that uid;
    None when it holds for none. When the probe itself cannot run: ``python``, as the first
    thing that uid could not read."""
    probe = ("import os, sys\n"
             "for p in sys.argv[1:]:\n"
             f"    if {condition}:\n"
             "        print(p, end=''); break\n")
    uid = sandbox_uid()
    try:
        out = subprocess.run([python, "-S", "-c", probe, *paths], user=uid, group=uid,
                             extra_groups=[], cwd="/", capture_output=True, text=True,
                             timeout=30, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired):
        return python
    return (out.stdout or None) if out.returncode == 0 else python


@functools.cache
def _readable_by_others(python: str, paths: tuple[str, ...]) -> str | None:
    """The first of ``paths`` that an unprivileged uid can read (a folder: enter), probed with
    ``python``; None when it can read none of them (or the first path, if the probe fails)."""
    if not paths:
        return None
    found = _first_for_others(python, paths,
                              "os.access(p, os.X_OK if os.path.isdir(p) else os.R_OK)")
    return paths[0] if found == python else found


@functools.cache
def _unreadable_by_others(paths: tuple[str, ...]) -> str | None:
    """The first of ``paths`` (the first being this Python) that an unprivileged uid with no
    groups cannot read (and, for a folder, enter); None when it can read them all."""
    return _first_for_others(paths[0], paths[1:],
                             "not os.access(p, os.R_OK | (os.X_OK if os.path.isdir(p) else 0))")


def _count_tasks_of_uid(uid: int) -> int:
    """Processes and threads that ``uid`` runs now (RLIMIT_NPROC counts both)."""
    return sum(procfs.task_count(pid) for pid, owner in procfs.processes() if owner == uid)


def _uids_in_use() -> set[int]:
    """The uids of every process running now."""
    return {uid for _, uid in procfs.processes()}


def sandbox_uid() -> int:
    """A uid that no process runs as now, for the next sandbox (when the grader runs as root).

    The first candidates depend on the grader's pid, so concurrent graders start apart; a uid
    still in use (another grader's sandbox, a worker not yet gone) is skipped, so two sandboxes
    never share RLIMIT_NPROC accounting.
    """
    in_use = _uids_in_use()
    for _ in range(16):
        uid = UID_BASE + (os.getpid() % 50000) * 16 + next(_uid_counter) % 16
        if uid not in in_use:
            return uid
    rng = random.Random()
    while True:  # 16 sandboxes of this pid slot alive: pick one far above the pid slots
        uid = UID_BASE + 800_000 + rng.randrange(1 << 24)
        if uid not in in_use:
            return uid


def wait_for_fd(fd: int, writable: bool, deadline: float) -> bool:
    """Wait until ``fd`` can be read (or written) or the monotonic ``deadline`` passes.

    True when it is ready (or closed at the other end). Uses poll, which, unlike select, works
    for fds above 1023.
    """
    poller = select.poll()
    poller.register(fd, select.POLLOUT if writable else select.POLLIN)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        timeout_ms = None if math.isinf(remaining) else min(math.ceil(remaining * 1000), 1 << 30)
        if poller.poll(timeout_ms):
            return True


class _MountPlan:
    """bwrap arguments for mounts at host-like paths, creating missing ancestors as 0755.

    (bwrap would create them 0700, which the unprivileged sandbox uid could not traverse.)
    """

    def __init__(self, args: list[str]):
        self.args = args
        self.created: set[str] = set()
        self.mounted: set[str] = set()

    def covered(self, path: str) -> bool:
        """True when ``path`` lies inside something already mounted."""
        return any(path == m or path.startswith(m + "/") for m in self.mounted)

    def mount(self, dest: str, mount: list[str]) -> None:
        parts = Path(dest).parts
        for i in range(2, len(parts)):
            ancestor = str(Path(*parts[:i]))
            if ancestor not in self.created and not self.covered(ancestor):
                self.args += ["--perms", "0755", "--dir", ancestor]
                self.created.add(ancestor)
        self.args += mount
        self.mounted.add(dest)


def python_executable() -> str:
    """This interpreter's path without ``..`` (``lab/../.venv/bin/python`` would not exist in
    the sandbox, where ``lab`` is not mounted). Not resolved through links: that would leave
    the virtual environment."""
    return os.path.normpath(os.path.abspath(sys.executable))


def bwrap_argv(spec: SandboxSpec, config: dict, env: dict[str, str]) -> list[str]:
    """The bubblewrap command line that runs the worker under ``spec``."""
    limits = spec.limits
    args = [shutil.which("bwrap") or "bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(spec.limits.tmp_bytes), "--tmpfs", "/dev/shm"]
    if os.getuid() == 0:
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    # The private /tmp and /scratch come first: a bind below /tmp (a checkout or virtual
    # environment there) must land on top of the private /tmp, not be hidden by it.
    args += ["--perms", "1777", "--size", str(limits.scratch_bytes), "--tmpfs", "/scratch",
             "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    plan = _MountPlan(args)
    plan.created.update({"/tmp", "/scratch"})
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            plan.mount(path, ["--ro-bind", path, path])
    for prefix in sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
                          sys.prefix}):
        if not plan.covered(prefix):
            plan.mount(prefix, ["--ro-bind", prefix, prefix])
    for hidden in _hidden_dirs():  # graded datasets, also those inside installed packages
        if plan.covered(str(hidden)) and hidden.is_dir():
            args += ["--perms", "0555", "--tmpfs", str(hidden)]
    root = SANDBOX_ROOT
    for package in RUNTIME_PACKAGES:
        plan.mount(f"{root}/runtime/{package}",
                   ["--ro-bind", str(REPO_ROOT / package), f"{root}/runtime/{package}"])
    plan.mount(f"{root}/labs/common",
               ["--ro-bind", str(REPO_ROOT / "common"), f"{root}/labs/common"])
    if spec.lab_dir is not None:
        lab = f"{root}/labs/{spec.lab_dir.name}"
        plan.mount(lab, ["--ro-bind", str(spec.lab_dir), lab])
        if (spec.lab_dir / "instructor").exists():
            args += ["--tmpfs", f"{lab}/instructor"]
        if (spec.lab_dir / "submission.py").exists():
            args += ["--ro-bind", "/dev/null", f"{lab}/submission.py"]
    if spec.data_dir is not None and spec.data_dir.is_dir():
        plan.mount(f"{root}/data", ["--ro-bind", str(spec.data_dir), f"{root}/data"])
    args += ["--chdir", "/scratch"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", python_executable(), "-m", "grading.sandbox.worker", json.dumps(config)]


class CpuLimitReached(TimeoutError):
    """The sandbox used up the CPU time a call had left (raised by :class:`DeadlineReader`)."""


class DeadlineReader:
    """A read-only binary stream over a pipe fd whose reads fail past a deadline.

    ``read_message`` reads through it, so a worker that stalls half-way through a message cannot
    hang the grader. While it waits, ``over_limit`` (when set) is asked every ``POLL_S``
    seconds whether the sandbox has used up its CPU time; then the read fails with
    :class:`CpuLimitReached`.
    """

    POLL_S = 0.25

    def __init__(self, fd: int):
        self.fd = fd
        self.deadline = float("inf")
        self.over_limit = None

    def _wait(self) -> None:
        while True:
            step = self.deadline if self.over_limit is None else min(
                self.deadline, time.monotonic() + self.POLL_S)
            if wait_for_fd(self.fd, False, step):
                return
            if time.monotonic() >= self.deadline:
                raise TimeoutError("the worker did not answer in time")
            if self.over_limit():
                raise CpuLimitReached("the sandbox used up its CPU time")

    def readinto(self, buffer) -> int:
        self._wait()
        return os.readv(self.fd, [memoryview(buffer).cast("B")])  # straight into the buffer

    def read(self, n: int = -1) -> bytes:
        self._wait()
        return os.read(self.fd, n if n > 0 else 1 << 20)

    def readable(self) -> bool:
        return True


class OutputDrain(threading.Thread):
    """Drains one of the worker's output pipes: keeps the first ``cap`` bytes, counts the rest.

    The thread and ``take`` read the (non-blocking) pipe under one lock, and ``take`` first
    reads what the pipe holds, so output written before the worker's answer is never missed nor
    shown with the next call. ``finish`` (after the worker was killed) reads what is left and
    closes the fd at once, even when an escaped process still holds the other end.
    """

    POLL_MS = 250
    PUMP_READS = 64  # reads of 64 KiB per take: bounded against a writer that never stops

    def __init__(self, fd: int, cap: int):
        super().__init__(daemon=True)
        os.set_blocking(fd, False)
        self.fd, self.cap = fd, cap
        self.chunks: list[bytes] = []
        self.kept = self.dropped = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self._poller = select.poll()
        self._poller.register(fd, select.POLLIN)

    def run(self) -> None:
        while not self.done.is_set():
            if self._poller.poll(self.POLL_MS):
                with self.lock:
                    if self.fd >= 0:
                        self._read_once()

    def _read_once(self) -> bool:
        """Read one chunk (lock held); False when the pipe is empty or at its end (closed then)."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self._close()
            return False
        room = self.cap - self.kept
        if room > 0:
            self.chunks.append(chunk[:room])
            self.kept += min(room, len(chunk))
        self.dropped += max(0, len(chunk) - max(room, 0))
        return True

    def _pump(self) -> None:
        """Read what the pipe holds now (lock held), at most PUMP_READS chunks."""
        for _ in range(self.PUMP_READS):
            if self.fd < 0 or not self._read_once():
                return

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.done.set()

    def finish(self) -> None:
        """Keep what the pipe still holds, close it and end the thread (idempotent)."""
        with self.lock:
            self._pump()
            self._close()

    def take(self) -> str:
        """Everything collected since the last take, as text."""
        with self.lock:
            self._pump()
            data, dropped = b"".join(self.chunks), self.dropped
            self.chunks, self.kept, self.dropped = [], 0, 0
        note = f"\n[... {dropped} more bytes dropped]" if dropped else ""
        return data.decode("utf-8", "replace") + note


class WorkerProcess:
    """One started worker: its process, request/response pipes and output drains."""

    def __init__(self, spec: SandboxSpec):
        self.spec = spec
        self.isolation = choose_isolation(spec.isolation)
        self.proc: subprocess.Popen | None = None
        self._host_scratch: Path | None = None
        self.uid: int | None = None  # the dedicated uid of a process-level worker of a root grader
        self.requests = None
        self.responses: DeadlineReader | None = None
        self.stdout: OutputDrain | None = None
        self.stderr: OutputDrain | None = None
        self.control: SandboxControl | None = None
        self.started_at = time.monotonic()

    def start(self) -> WorkerProcess:
        limits = self.spec.limits
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        config = {"limits": limits.to_dict(), "preload": list(self.spec.preload),
                  "request_fd": req_r, "response_fd": resp_w, "parent_pid": os.getpid()}
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PYTHONHASHSEED": "0",
               "LABS_NO_PROGRESS": "1", "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"}
        if limits.threads > 0:  # 0: leave the pools at their defaults (to measure what it costs)
            env.update(thread_env(limits.threads))
        if self.isolation == "bwrap":
            root = SANDBOX_ROOT
            lab_path = f":{root}/labs/{self.spec.lab_dir.name}" if self.spec.lab_dir else ""
            env.update(HOME="/scratch", TMPDIR="/tmp", MPLCONFIGDIR="/tmp/matplotlib",
                       PYTHONPATH=f"{root}/runtime:{root}/labs{lab_path}")
            if self.spec.data_dir is not None and self.spec.data_dir.is_dir():
                env["LABS_DATA_DIR"] = f"{root}/data"  # else the default under HOME=/scratch
            config.update(scratch="/scratch", pid_namespace=True)
            if os.getuid() == 0:
                config.update(uid=sandbox_uid(), nproc=True)
            else:
                config.update(nproc=True)
                limits_dict = dict(config["limits"])
                limits_dict["max_tasks"] += _count_tasks_of_uid(os.getuid())
                config["limits"] = limits_dict
            argv = bwrap_argv(self.spec, config, env)
            cwd = "/"
        else:
            scratch = self._process_scratch()
            if self.uid is not None:
                config.update(uid=self.uid, nproc=True)
            lab_path = f":{self.spec.lab_dir}" if self.spec.lab_dir else ""
            env.update(HOME=str(scratch), TMPDIR=str(scratch),
                       MPLCONFIGDIR=str(scratch / ".matplotlib"),
                       PYTHONPATH=f"{REPO_ROOT}{lab_path}")
            if self.spec.data_dir is not None:
                env["LABS_DATA_DIR"] = str(self.spec.data_dir)
            config.update(scratch=str(scratch), pid_namespace=False)
            argv = [worker_python(), "-m", "grading.sandbox.worker", json.dumps(config)]
            cwd = scratch
        try:
            self.proc = subprocess.Popen(argv, env=env, pass_fds=(req_r, resp_w),
                                         stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w,
                                         start_new_session=True, cwd=cwd)
        except BaseException:
            for fd in (req_w, resp_r, out_r, err_r):
                os.close(fd)
            if self._host_scratch is not None:
                shutil.rmtree(self._host_scratch, ignore_errors=True)
            raise
        finally:
            for fd in (req_r, resp_w, out_w, err_w):
                os.close(fd)
        _live_workers.add(self)
        self.control = SandboxControl(self.proc.pid, nested=self.isolation == "bwrap",
                                      uid=self.uid, cgroup=WorkerCgroup.create(limits.memory_bytes))
        self.requests = os.fdopen(req_w, "wb", buffering=0)
        self.responses = DeadlineReader(resp_r)
        # room beyond output_bytes for the worker's "[... N more characters dropped]" note
        self.stdout = OutputDrain(out_r, limits.output_bytes + DRAIN_NOTE_ROOM)
        self.stderr = OutputDrain(err_r, limits.output_bytes + DRAIN_NOTE_ROOM)
        self.stdout.start()
        self.stderr.start()
        return self

    def _process_scratch(self) -> Path:
        """Make the host folder of a process-level worker; return its writable scratch folder.

        As root the worker gets a dedicated unprivileged uid (so RLIMIT_NPROC holds, the
        grader's files and processes are out of its reach, and its strays can be found and
        killed) and a scratch folder of its own inside a root folder it can only traverse, so
        ``~/..`` leads nowhere writable. Where that uid could not read what it needs, the
        worker is refused (:class:`SandboxRefused`): it never runs as root.
        """
        if os.getuid() == 0:
            require_unprivileged_workers(replace(self.spec, isolation="process"))
        self._host_scratch = Path(tempfile.mkdtemp(prefix="grader-scratch-"))
        if os.getuid() != 0:
            return self._host_scratch
        self.uid = sandbox_uid()
        self._host_scratch.chmod(0o711)
        scratch = self._host_scratch / "scratch"
        scratch.mkdir(mode=0o700)
        os.chown(scratch, self.uid, self.uid)
        return scratch

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_description(self) -> str:
        """How the worker ended, in plain English (call after it died)."""
        if self.proc is None:
            return "the worker was never started"
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the worker stopped answering"
        if self.isolation == "bwrap" and 128 < code < 128 + 65:
            code = -(code - 128)  # bwrap reports a child killed by signal N as 128 + N
        if code < 0:
            sig = signal.Signals(-code).name
            if sig == "SIGKILL" and self.control is not None and self.control.out_of_memory():
                return (f"the worker was killed: the sandbox reached its memory limit of "
                        f"{self.spec.limits.memory_bytes / (1 << 30):.1f} GiB (shared memory and "
                        "files in memory count too)")
            hints = {"SIGKILL": " (out of memory, or killed by the grader)",
                     "SIGXCPU": " (CPU time limit reached)", "SIGXFSZ": " (file size limit)",
                     "SIGSEGV": " (a crash in native code)"}
            return f"the worker was killed by {sig}{hints.get(sig, '')}"
        return f"the worker exited with code {code}"

    def kill(self) -> None:
        """Kill the worker and everything it started; idempotent."""
        _live_workers.discard(self)
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.uid is not None:  # children that left the worker's session (daemons)
            procfs.kill_processes_of_uid(self.uid)
        if self.control is not None:
            self.control.close()
        for stream in (self.requests,):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self.responses is not None and self.responses.fd >= 0:
            os.close(self.responses.fd)
            self.responses.fd = -1
        for drain in (self.stdout, self.stderr):
            if drain is not None:
                drain.finish()
        if self._host_scratch is not None:
            shutil.rmtree(self._host_scratch, ignore_errors=True)
            self._host_scratch = None
