"""One sandbox seen from the grader: the CPU time of everything it runs, and a pause between
calls, so that nothing a submission leaves running can work (or slow the grader down) while no
call of the grader is in flight.

The CPU time comes from the worker's control group where the grader may create one
(:mod:`grading.sandbox.cgroups`: exact, every process counted); elsewhere from ``/proc``: the
user + system time of the sandbox's processes and of the children they reaped. Under bubblewrap
every process of the sandbox lives below its outer ``bwrap`` process (a PID namespace: orphans
go to its init); at the process level the worker is a child subreaper, and a dedicated uid's
processes are counted too.

The pause is SIGSTOP to the worker, which cannot be caught or ignored. Between calls the worker
is the sandbox's only process: it kills its strays before it answers.
"""

from __future__ import annotations

import os
import signal

from grading.sandbox import procfs
from grading.sandbox.cgroups import WorkerCgroup


class SandboxControl:
    """CPU time and pausing of one worker's sandbox.

    root_pid: the process the grader started (bwrap's outer process, or the worker itself).
    nested: True under bubblewrap (root_pid -> namespace init -> worker).
    uid: the dedicated uid of a process-level worker of a root grader, else None.
    """

    def __init__(self, root_pid: int, nested: bool, uid: int | None,
                 cgroup: WorkerCgroup | None):
        self.root_pid, self.nested, self.uid, self.cgroup = root_pid, nested, uid, cgroup
        self.members = [root_pid]  # whose times add up to the sandbox's once strays are gone
        self.worker_pid: int | None = None if nested else root_pid
        self.frozen = False
        self._partial: WorkerCgroup | None = None

    def attach(self) -> None:
        """At the worker's hello (before any student code): find the worker's process and move
        the sandbox into its control group."""
        tree = procfs.descendants(self.root_pid)
        self.members = [self.root_pid, *tree]
        if self.nested:
            deeper = [pid for pid in tree if procfs.parent_of(pid) != self.root_pid]
            self.worker_pid = deeper[0] if deeper else None
        if self.cgroup is not None and not all([self.cgroup.add(p) for p in self.members]):
            # a group holding part of the sandbox counts part of its CPU: not used, and removed
            # only at close (removing it now would kill the processes already in it)
            self._partial, self.cgroup = self.cgroup, None

    def cpu_seconds(self, thorough: bool = False) -> float:
        """CPU seconds the sandbox used so far. Without a control group, ``thorough`` also
        counts the processes still running below the worker (a scan of ``/proc``); without it
        only the worker's tree as it is between calls (cheap)."""
        if self.cgroup is not None:
            seconds = self.cgroup.cpu_seconds()
            if seconds is not None:
                return seconds
        pids = set(self.members)
        if thorough:
            pids.update(procfs.descendants(self.root_pid))
            if self.uid is not None:
                pids.update(pid for pid, owner in procfs.processes() if owner == self.uid)
        return procfs.cpu_seconds(pids)

    def out_of_memory(self) -> bool:
        return self.cgroup is not None and self.cgroup.out_of_memory()

    def freeze(self) -> None:
        """Stop the worker (every thread of it) until :meth:`thaw`."""
        if self.worker_pid is not None and not self.frozen:
            self.frozen = self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.frozen:
            self._signal(signal.SIGCONT)
            self.frozen = False

    def _signal(self, sig: int) -> bool:
        try:
            os.kill(self.worker_pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def close(self) -> None:
        """Kill what is left in the control group and remove it (after the worker was killed)."""
        for group in (self.cgroup, self._partial):
            if group is not None:
                group.remove()
        self.cgroup = self._partial = None
