"""Control groups for sandboxed workers (grader side): exact CPU time of everything a worker
runs, a memory limit that covers what RLIMIT_AS does not (shared memory, memfd, tmpfs pages),
and a kill that reaches every process of the sandbox.

Used where the grader may create control groups (root, a writable cgroup file system). Two
layouts are met in practice, and a host may mix them:

* cgroup v2 (``cgroup2`` mount): ``cpu.stat`` exists in every group; ``memory.max`` where the
  memory controller can be enabled below the root; ``cgroup.kill``.
* cgroup v1: ``cpuacct.usage`` and ``memory.limit_in_bytes`` in their own hierarchies.

Elsewhere (no permission, a container without a writable cgroup file system) ``WorkerCgroup.create``
returns None and the caller falls back to ``/proc`` accounting and tmpfs sizes alone.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

GROUP_PREFIX = "labs-grader"
_counter = itertools.count()


@dataclass(frozen=True)
class _Mounts:
    """Where the hierarchies are: the cgroup v2 mount, and the v1 memory / cpuacct mounts."""

    unified: Path | None
    memory_v1: Path | None
    cpuacct_v1: Path | None


@functools.cache
def _mounts() -> _Mounts:
    unified = memory = cpuacct = None
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mount_point, fstype, options = Path(fields[4]), tail[0], set(tail[2].split(","))
        if fstype == "cgroup2" and unified is None:
            unified = mount_point
        elif fstype == "cgroup":
            memory = mount_point if "memory" in options and memory is None else memory
            cpuacct = mount_point if "cpuacct" in options and cpuacct is None else cpuacct
    return _Mounts(unified, memory, cpuacct)


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text)
        return True
    except OSError:
        return False


def _make_group(base: Path, name: str) -> Path | None:
    """``base/GROUP_PREFIX-<grader pid>/name``, created; None when that is not allowed here."""
    group = base / f"{GROUP_PREFIX}-{os.getpid()}" / name
    try:
        group.mkdir(parents=True)
    except OSError:
        return None
    return group


def _v2_memory_ready(unified: Path) -> bool:
    """Enable the memory controller for the grader's groups below the v2 root (allowed there:
    the root group is exempt from the no-internal-processes rule)."""
    if "memory" not in (unified / "cgroup.controllers").read_text().split():
        return False
    parent = unified / f"{GROUP_PREFIX}-{os.getpid()}"
    try:
        parent.mkdir(exist_ok=True)
    except OSError:
        return False
    return (_write(unified / "cgroup.subtree_control", "+memory")
            and _write(parent / "cgroup.subtree_control", "+memory"))


class WorkerCgroup:
    """The control group(s) of one worker.

    cpu: a v2 group (``cpu.stat``) or a v1 cpuacct group; memory: a v2 group with
    ``memory.max`` (the same one) or a v1 memory group. Either may be None.
    """

    def __init__(self, cpu: Path | None, memory: Path | None):
        self.cpu, self.memory = cpu, memory

    @classmethod
    def create(cls, memory_bytes: int) -> WorkerCgroup | None:
        """Groups for a new worker with a memory limit of ``memory_bytes``; None when this
        grader may not create control groups (then nothing is left behind)."""
        if os.getuid() != 0:
            return None
        mounts = _mounts()
        name = f"w{next(_counter)}"
        cpu = memory = None
        try:
            if mounts.unified is not None:
                with_memory = _v2_memory_ready(mounts.unified)
                cpu = _make_group(mounts.unified, name)
                if cpu is not None and with_memory and _write(cpu / "memory.max",
                                                              str(memory_bytes)):
                    _write(cpu / "memory.swap.max", "0")
                    memory = cpu
            if cpu is None and mounts.cpuacct_v1 is not None:
                cpu = _make_group(mounts.cpuacct_v1, name)
            if memory is None and mounts.memory_v1 is not None:
                memory = _make_group(mounts.memory_v1, name)
                if memory is not None and not _write(memory / "memory.limit_in_bytes",
                                                     str(memory_bytes)):
                    _remove(memory)
                    memory = None
        except OSError:
            pass
        if cpu is None and memory is None:
            return None
        return cls(cpu, memory)

    @property
    def groups(self) -> list[Path]:
        return list(dict.fromkeys(g for g in (self.cpu, self.memory) if g is not None))

    def add(self, pid: int) -> bool:
        """Move process ``pid`` (all its threads) into the groups; False if any move failed."""
        return all([_write(group / "cgroup.procs", str(pid)) for group in self.groups])

    def cpu_seconds(self) -> float | None:
        """CPU seconds used by every process that was ever in the group; None without one."""
        if self.cpu is None:
            return None
        try:
            if (self.cpu / "cpu.stat").exists():
                for line in (self.cpu / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) / 1e6
                return None
            return int((self.cpu / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return None

    def out_of_memory(self) -> bool:
        """True when the memory limit killed a process of the group (or refused memory)."""
        if self.memory is None:
            return False
        try:
            if (self.memory / "memory.events").exists():
                events = dict(line.split() for line in
                              (self.memory / "memory.events").read_text().splitlines())
                return int(events.get("oom_kill", 0)) > 0 or int(events.get("max", 0)) > 0
            return int((self.memory / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            return False

    def pids(self) -> set[int]:
        """The processes in the groups now."""
        found: set[int] = set()
        for group in self.groups:
            try:
                found.update(int(p) for p in (group / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return found

    def kill(self) -> None:
        """SIGKILL every process in the groups (``cgroup.kill`` where the kernel has it)."""
        for group in self.groups:
            _write(group / "cgroup.kill", "1")
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def remove(self) -> None:
        """Kill what is left and delete the groups (idempotent)."""
        self.kill()
        for group in self.groups:
            _remove(group)
        self.cpu = self.memory = None


def _remove(group: Path) -> None:
    """Delete an empty group, and its grader folder once that is empty too."""
    for _ in range(200):  # a killed process leaves its group a moment after SIGKILL
        try:
            group.rmdir()
            break
        except FileNotFoundError:
            break
        except OSError:
            time.sleep(0.01)
    try:
        group.parent.rmdir()
    except OSError:
        pass  # other workers of this grader still use it
