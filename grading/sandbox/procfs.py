"""What ``/proc`` says about the processes running now (grader and worker side)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def processes() -> Iterator[tuple[int, int]]:
    """(pid, uid) of every process visible now; one that ends while listed is left out."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                yield int(entry), os.stat(f"/proc/{entry}").st_uid
            except OSError:
                pass


def task_count(pid: int) -> int:
    """Threads of ``pid`` (1 for a single-threaded process; 0 once it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (field 3, the state, first);
    None once the process is gone. The name is skipped by its last ``)``: it may hold spaces."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def parent_of(pid: int) -> int | None:
    """The parent pid of ``pid``; None once it is gone."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def descendants(root: int) -> list[int]:
    """Every process below ``root`` now (children, their children, ...), zombies included."""
    children: dict[int, list[int]] = {}
    for pid, _ in processes():
        parent = parent_of(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pids) -> float:
    """CPU seconds (user + system) that ``pids`` used, with those of their children that they
    reaped: summed over a process tree, the whole tree's CPU time (a reaped process counts in
    its reaper). Processes already gone count 0."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:  # utime, stime, cutime, cstime: fields 14-17 of stat
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / CLOCK_TICKS


def state(pid: int) -> str | None:
    """The one-letter state of ``pid`` (R running, S sleeping, D in the kernel, Z zombie, ...);
    None once it is gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def is_zombie(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie nobody reaped yet, or gone)."""
    return state(pid) in (None, "Z", "X")


def kill_matching(matches: Callable[[int, int], bool],
                  before_pass: Callable[[], None] = lambda: None,
                  timeout_s: float = 10.0) -> int:
    """SIGKILL every live process whose (pid, uid) ``matches``; return how many were signalled.

    Repeats until a pass finds none, so a child forked while the previous pass ran (a
    double-forking daemon) is caught too; ``before_pass`` runs first in each pass (to reap
    one's own children). A process that was signalled takes until it is next scheduled to
    die, which on a loaded machine can outlast many passes: a pass that finds only those waits
    a little (1 ms, doubling up to 10 ms) instead of counting against a fixed number of passes.
    ``timeout_s`` bounds the work if processes appear faster than they die.
    """
    signalled: set[int] = set()
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        before_pass()
        found = [pid for pid, uid in processes() if matches(pid, uid) and not is_zombie(pid)]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                signalled.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        if time.monotonic() > deadline:
            break
        if signalled.issuperset(found):
            time.sleep(pause)
            pause = min(2 * pause, 0.01)
    return len(signalled)


def kill_processes_of_uid(uid: int) -> int:
    """SIGKILL every live process of ``uid`` (root only); return how many were signalled."""
    return kill_matching(lambda pid, owner: owner == uid)
