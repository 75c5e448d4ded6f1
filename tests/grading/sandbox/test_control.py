"""The grader's hold on a sandbox: its CPU time, its pause between calls, its memory limit
(shared memory included). Each attack is bounded in size and time, so a broken sandbox fails the
test, not the machine."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest

from grading.rpc.client import WorkerClient
from grading.rpc.errors import StudentError, WorkerDied
from grading.sandbox import cgroups, procfs
from grading.sandbox.launcher import SandboxSpec, bwrap_works
from grading.sandbox.limits import MIB, SandboxLimits

LEVELS = ["process", pytest.param("bwrap", marks=pytest.mark.skipif(
    not bwrap_works(), reason="bubblewrap cannot create namespaces here"))]

STUDENT = b'''
import os, threading, time

def spin_for(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass

def spin_in_child(seconds):
    pid = os.fork()
    if pid == 0:
        spin_for(seconds)
        os._exit(0)
    os.waitpid(pid, 0)

def spin_in_orphan(seconds):
    """A grandchild that outlives its parent (re-parented), spins, and ends on its own."""
    r, w = os.pipe()
    if os.fork() == 0:
        if os.fork() == 0:
            spin_for(seconds)
            os.write(w, b"x")
            os._exit(0)
        os._exit(0)
    os.read(r, 1)
    time.sleep(0.2)

def start_burner():
    def burn():
        while True:
            pass
    threading.Thread(target=burn, daemon=True).start()

def fill_memfds(total_mib, chunk_mib=64):
    fds, block = [], b"x" * (1 << 20)
    for i in range(total_mib // chunk_mib):
        fd = os.memfd_create(f"m{i}")
        for _ in range(chunk_mib):
            os.write(fd, block)
        fds.append(fd)
    return len(fds)

def fill_dev_shm(total_mib):
    block = b"x" * (1 << 20)
    with open("/dev/shm/fill", "wb") as f:
        for _ in range(total_mib):
            f.write(block)
'''


def start(level: str, **limits) -> tuple[WorkerClient, object]:
    spec = SandboxSpec(isolation=level, preload=(), limits=replace(SandboxLimits(), **limits))
    client = WorkerClient.start(spec)
    return client, client.load_submission({"submission.py": STUDENT})


@pytest.fixture
def worker(request):
    made = []

    def make(level="process", **limits):
        made.append(start(level, **limits))
        return made[-1]

    yield make
    for client, _ in made:
        client.close()


@pytest.mark.parametrize("level", LEVELS)
def test_cpu_time_counts_the_worker_and_its_children(worker, level):
    client, module = worker(level)
    before = client.cpu_seconds()
    module.spin_for(0.4)
    module.spin_in_child(0.4)
    used = client.cpu_seconds() - before
    assert 0.7 < used < 2.0, used


@pytest.mark.parametrize("level", LEVELS)
def test_cpu_time_counts_an_orphan_that_was_reparented(worker, level):
    client, module = worker(level)
    before = client.cpu_seconds()
    module.spin_in_orphan(0.5)
    assert client.cpu_seconds() - before > 0.4


@pytest.mark.parametrize("level", LEVELS)
def test_the_sandbox_is_paused_between_calls(worker, level):
    """A CPU-burning thread left behind by one call does not run until the next call, so it
    cannot slow the grader while the grader times its reference."""
    client, module = worker(level)
    module.start_burner()
    paused_from = client.cpu_seconds()
    time.sleep(0.6)
    assert client.cpu_seconds() - paused_from < 0.1
    busy_from = client.cpu_seconds()
    module.spin_for(0.3)  # the burner runs again during a call, and is charged to it
    assert client.cpu_seconds() - busy_from > 0.45


@pytest.mark.skipif(cgroups.WorkerCgroup.create(64 * MIB) is None,
                    reason="this grader may not create control groups")
@pytest.mark.parametrize("level", LEVELS)
def test_memfd_pages_count_against_the_memory_limit(worker, level):
    """memfd pages are in no address space: only the control group's limit stops them."""
    client, module = worker(level, memory_bytes=256 * MIB)
    assert client.process.control.cgroup is not None
    started = time.monotonic()
    with pytest.raises(WorkerDied, match="memory limit of 0.2 GiB"):
        module.fill_memfds(1024)
    assert time.monotonic() - started < 60


@pytest.mark.skipif(not bwrap_works(), reason="bubblewrap cannot create namespaces here")
def test_dev_shm_is_a_sized_tmpfs(worker):
    client, module = worker("bwrap", tmp_bytes=32 * MIB)
    with pytest.raises(StudentError, match="No space left on device"):
        module.fill_dev_shm(128)
    assert client.alive


def test_control_groups_are_removed_with_the_worker(worker):
    client, _ = worker("process")
    groups = client.process.control.cgroup.groups if client.process.control.cgroup else []
    client.close()
    assert not any(os.path.exists(group) for group in groups)


def test_a_control_group_that_holds_part_of_the_sandbox_is_not_used_and_kills_nothing(
        worker, monkeypatch):
    """A move into the group that fails half-way leaves the worker running, on /proc
    accounting, and the group is removed when the worker closes."""
    from grading.sandbox.control import SandboxControl

    client, module = worker("process")
    moves, real_add = [], cgroups.WorkerCgroup.add

    def add_first_only(self, pid):  # the worker itself really moves; the next move fails
        moves.append(pid)
        return real_add(self, pid) if len(moves) == 1 else False

    monkeypatch.setattr(cgroups.WorkerCgroup, "add", add_first_only)
    group = cgroups.WorkerCgroup.create(64 * MIB)
    if group is None:
        pytest.skip("this grader may not create control groups")
    control = SandboxControl(client.process.proc.pid, nested=False, uid=client.process.uid,
                             cgroup=group)
    monkeypatch.setattr(procfs, "descendants", lambda pid: [os.getpid()])  # a second member
    control.attach()
    assert control.cgroup is None and client.alive
    before = control.cpu_seconds()
    module.spin_for(0.2)
    assert control.cpu_seconds() - before > 0.1
    control.close()
    assert not any(os.path.exists(g) for g in group.groups)
