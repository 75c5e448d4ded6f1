"""Reading /proc: processes, their threads, zombies, and killing every process of a uid."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from grading.sandbox import procfs
from grading.sandbox.launcher import sandbox_uid


def test_processes_lists_this_process_with_its_uid():
    assert (os.getpid(), os.getuid()) in set(procfs.processes())


def test_task_count_counts_threads():
    before = procfs.task_count(os.getpid())
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert procfs.task_count(os.getpid()) == before + 1
    finally:
        stop.set()
        thread.join()
    assert procfs.task_count(999_999_999) == 0


def test_is_zombie():
    assert procfs.is_zombie(os.getpid()) is False
    assert procfs.is_zombie(999_999_999) is True  # gone counts as done
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while not procfs.is_zombie(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert procfs.is_zombie(child.pid)  # exited, not reaped yet
    child.wait()


@pytest.mark.skipif(os.getuid() != 0, reason="only root can start processes as another uid")
def test_kill_processes_of_uid_kills_them_all_and_nothing_else():
    uid = sandbox_uid()
    # a shell that starts a child in a new session: both must die
    proc = subprocess.Popen(["/bin/sh", "-c", "setsid sleep 60 & sleep 60"], user=uid,
                            group=uid, extra_groups=[], cwd="/")
    try:
        deadline = time.monotonic() + 10
        while (sum(owner == uid for _, owner in procfs.processes()) < 2
               and time.monotonic() < deadline):
            time.sleep(0.02)
        assert procfs.kill_processes_of_uid(uid) >= 2
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = [pid for pid, owner in procfs.processes()
                     if owner == uid and not procfs.is_zombie(pid)]
            if not alive:
                break
            time.sleep(0.02)
        assert alive == []
        assert procfs.is_zombie(os.getpid()) is False
    finally:
        proc.kill()
        proc.wait()


class _SlowToDie:
    """A fake /proc in which a signalled process still shows as alive for ``passes`` scans, as
    one that exits only when it is next scheduled on a loaded machine."""

    def __init__(self, monkeypatch, passes: int):
        self.left, self.scans, self.signals = passes, 0, 0
        monkeypatch.setattr(procfs, "processes", self.processes)
        monkeypatch.setattr(procfs, "is_zombie", lambda pid: False)
        monkeypatch.setattr(procfs.os, "kill", self.kill)

    def processes(self):
        self.scans += 1
        if self.signals and self.left <= 0:
            return iter(())
        self.left -= bool(self.signals)
        return iter([(4242, 200_000)])

    def kill(self, pid, sig):
        self.signals += 1


def test_kill_matching_waits_for_a_signalled_process_that_is_slow_to_die(monkeypatch):
    fake = _SlowToDie(monkeypatch, passes=60)  # more scans than any fixed pass count allows
    assert procfs.kill_matching(lambda pid, uid: True) == 1
    assert fake.left <= 0, "gave up while the process was still alive"


def test_kill_matching_gives_up_at_its_time_bound(monkeypatch):
    _SlowToDie(monkeypatch, passes=10**9)
    start = time.monotonic()
    assert procfs.kill_matching(lambda pid, uid: True, timeout_s=0.3) == 1
    assert time.monotonic() - start < 3
