"""What ``/proc`` says about the processes running now (grader and worker side)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator


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


def is_zombie(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie nobody reaped yet, or gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def kill_matching(matches: Callable[[int, int], bool],
                  before_pass: Callable[[], None] = lambda: None, max_passes: int = 50) -> int:
    """SIGKILL every live process whose (pid, uid) ``matches``; return how many were signalled.

    Repeats until a pass finds none, so a child forked while the previous pass ran (a
    double-forking daemon) is caught too; ``before_pass`` runs first in each pass (to reap
    one's own children), and ``max_passes`` bounds the work if processes appear faster than
    they die.
    """
    killed = 0
    for _ in range(max_passes):
        before_pass()
        found = [pid for pid, uid in processes() if matches(pid, uid) and not is_zombie(pid)]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
    return killed


def kill_processes_of_uid(uid: int) -> int:
    """SIGKILL every live process of ``uid`` (root only); return how many were signalled."""
    return kill_matching(lambda pid, owner: owner == uid)
