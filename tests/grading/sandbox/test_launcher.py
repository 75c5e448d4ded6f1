"""Starting and stopping workers: isolation choice, uids, fds, output drains, clean-up."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from grading.rpc.client import WorkerClient
from grading.sandbox import launcher
from grading.sandbox.launcher import (
    UID_BASE,
    DeadlineReader,
    OutputDrain,
    SandboxSpec,
    WorkerProcess,
    _MountPlan,
    bwrap_argv,
    bwrap_works,
    choose_isolation,
    sandbox_uid,
    wait_for_fd,
)

LAB = Path(__file__).parents[1] / "fixture_lab"
LEVELS = ["process", pytest.param("bwrap", marks=pytest.mark.skipif(
    not bwrap_works(), reason="bubblewrap is missing or cannot create namespaces here"))]
needs_bwrap = pytest.mark.skipif(not bwrap_works(), reason="needs working bubblewrap")


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def zombie_children() -> list[int]:
    """Children of this process that died and were never reaped."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if stat[0] == "Z" and int(stat[1]) == os.getpid():
                found.append(int(entry))
    return found


# -- choosing the isolation level ------------------------------------------------------------------
def test_choose_isolation_refuses_unknown_levels():
    with pytest.raises(ValueError, match="auto, bwrap or process; received 'docker'"):
        choose_isolation("docker")


def test_choose_isolation_falls_back_only_when_allowed(monkeypatch):
    monkeypatch.setattr(launcher, "bwrap_works", lambda: False)
    assert choose_isolation("auto") == "process"
    assert choose_isolation("process") == "process"
    with pytest.raises(RuntimeError, match="apt-get install bubblewrap"):
        choose_isolation("bwrap")
    monkeypatch.setattr(launcher, "bwrap_works", lambda: True)
    assert choose_isolation("auto") == "bwrap" and choose_isolation("process") == "process"


# -- uids ------------------------------------------------------------------------------------------
def test_sandbox_uid_skips_uids_in_use(monkeypatch):
    first = sandbox_uid()
    assert first >= UID_BASE
    slot = UID_BASE + (os.getpid() % 50000) * 16
    monkeypatch.setattr(launcher, "_uids_in_use", lambda: {slot + i for i in range(16)} - {
        slot + 5})
    assert sandbox_uid() == slot + 5  # the only free uid of this grader's slot


def test_sandbox_uid_leaves_the_slot_when_it_is_full(monkeypatch):
    slot = UID_BASE + (os.getpid() % 50000) * 16
    monkeypatch.setattr(launcher, "_uids_in_use", lambda: {slot + i for i in range(16)})
    uids = {sandbox_uid() for _ in range(20)}
    assert all(uid >= UID_BASE + 800_000 for uid in uids)


def test_uids_in_use_sees_this_process():
    assert os.getuid() in launcher._uids_in_use()


# -- waiting on fds --------------------------------------------------------------------------------
def test_wait_for_fd(pipe):
    r, w = pipe
    assert wait_for_fd(w, True, time.monotonic() + 1)
    started = time.monotonic()
    assert not wait_for_fd(r, False, started + 0.05)
    assert 0.04 < time.monotonic() - started < 1
    assert not wait_for_fd(r, False, started - 1)  # a deadline already passed: no wait at all
    os.write(w, b"x")
    assert wait_for_fd(r, False, float("inf"))


def test_wait_for_fd_works_above_fd_1023(pipe):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2000:
        pytest.skip("RLIMIT_NOFILE too low to open fd 1500")
    if soft < 2000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (2000, hard))
    try:
        r, w = pipe
        high = os.dup2(r, 1500)
        try:
            os.write(w, b"x")
            assert wait_for_fd(high, False, time.monotonic() + 1)  # select() would raise here
            reader = DeadlineReader(high)
            reader.deadline = time.monotonic() + 1
            assert reader.read(10) == b"x"
        finally:
            os.close(high)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_deadline_reader(pipe):
    r, w = pipe
    reader = DeadlineReader(r)
    reader.deadline = time.monotonic() + 0.05
    with pytest.raises(TimeoutError, match="did not answer in time"):
        reader.read(4)
    os.write(w, b"abcd")
    reader.deadline = time.monotonic() + 1
    buffer = bytearray(8)
    assert reader.readinto(buffer) == 4 and buffer[:4] == b"abcd"
    assert reader.readable()


# -- output drains ---------------------------------------------------------------------------------
def make_drain(cap=64):
    r, w = os.pipe()
    drain = OutputDrain(r, cap)
    drain.start()
    return drain, w


def test_drain_sees_output_written_just_before_take():
    drain, w = make_drain()
    try:
        for i in range(200):  # no sleep: take() must read what the pipe holds itself
            os.write(w, b"line %d\n" % i)
            assert drain.take() == f"line {i}\n"
    finally:
        os.close(w)
        drain.finish()


def test_drain_keeps_the_first_bytes_and_counts_the_rest():
    drain, w = make_drain(cap=10)
    try:
        os.write(w, b"0123456789abcdef")
        os.write(w, b"ghij")
        assert drain.take() == "0123456789\n[... 10 more bytes dropped]"
        os.write(w, b"again")  # the cap is per take
        assert drain.take() == "again"
        assert drain.take() == ""
    finally:
        os.close(w)
        drain.finish()


def test_drain_decodes_characters_split_across_reads():
    drain, w = make_drain()
    try:
        text = "é✓".encode()
        os.write(w, text[:1])
        time.sleep(0.02)
        os.write(w, text[1:])
        assert drain.take() == "é✓"
    finally:
        os.close(w)
        drain.finish()


def test_drain_ends_at_end_of_file_and_closes_its_fd():
    drain, w = make_drain()
    os.write(w, b"last words")
    os.close(w)
    drain.join(timeout=5)
    assert not drain.is_alive() and drain.fd == -1
    assert drain.take() == "last words"


def test_finish_does_not_wait_for_a_writer_that_never_closes():
    drain, w = make_drain()
    try:
        os.write(w, b"before the kill")
        started = time.monotonic()
        drain.finish()  # an escaped process would still hold w
        assert time.monotonic() - started < 2
        assert drain.fd == -1 and drain.take() == "before the kill"
        drain.join(timeout=2)
        assert not drain.is_alive()
        drain.finish()  # idempotent
    finally:
        os.close(w)


def test_take_is_bounded_against_a_writer_that_never_stops():
    drain, w = make_drain(cap=100)
    stop, flowing = threading.Event(), threading.Event()

    def flood():
        os.set_blocking(w, False)
        while not stop.is_set():
            try:
                os.write(w, b"y" * 65536)
                flowing.set()
            except BlockingIOError:
                time.sleep(0.001)

    writer = threading.Thread(target=flood, daemon=True)
    writer.start()
    try:
        assert flowing.wait(5)
        started = time.monotonic()
        text = drain.take()
        assert time.monotonic() - started < 5
        assert text.startswith("y" * 100 + "\n[... ")
    finally:
        stop.set()
        writer.join(timeout=5)
        os.close(w)
        drain.finish()


# -- the bubblewrap command line -------------------------------------------------------------------
def test_mount_plan_creates_missing_ancestors_once():
    args: list[str] = []
    plan = _MountPlan(args)
    plan.mount("/grader/runtime/grading/rpc", ["--ro-bind", "a", "/grader/runtime/grading/rpc"])
    plan.mount("/grader/runtime/grading/sandbox", ["--ro-bind", "b", "/x"])
    assert args.count("/grader") == 1 and args.count("/grader/runtime/grading") == 1
    assert args[:3] == ["--perms", "0755", "--dir"]
    assert plan.covered("/grader/runtime/grading/rpc/wire.py")
    assert not plan.covered("/grader/runtime/grading/rpcx")


def test_bwrap_argv_hides_instructor_files_and_the_stub(monkeypatch):
    monkeypatch.setattr(launcher.os, "getuid", lambda: 0)
    spec = SandboxSpec(lab_dir=LAB, data_dir=LAB / "tests")
    argv = bwrap_argv(spec, {"x": 1}, {"HOME": "/scratch"})
    joined = " ".join(argv)
    lab = "/grader/labs/fixture_lab"
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent",
                 "--new-session", "--cap-drop ALL", f"--tmpfs {lab}/instructor",
                 f"--ro-bind /dev/null {lab}/submission.py", f"--ro-bind {LAB} {lab}",
                 "--tmpfs /scratch", "--chdir /scratch", "--setenv HOME /scratch",
                 f"--ro-bind {LAB / 'tests'} /grader/data"):
        assert flag in joined, flag
    assert argv[-3:] == ["-m", "grading.sandbox.worker", '{"x": 1}']
    assert f"--ro-bind {launcher.REPO_ROOT} " not in joined  # never the whole repository
    assert "--bind " not in joined  # nothing of the host is writable


# -- real workers ----------------------------------------------------------------------------------
def test_exit_description_in_plain_english():
    worker = WorkerProcess(SandboxSpec(isolation="process"))
    assert worker.exit_description() == "the worker was never started"

    class Finished:
        def __init__(self, code):
            self.code = code

        def wait(self, timeout=None):
            return self.code

    cases = {("process", 3): "the worker exited with code 3",
             ("process", -9): "the worker was killed by SIGKILL (out of memory, or killed by "
                              "the grader)",
             ("process", -24): "the worker was killed by SIGXCPU (CPU time limit reached)",
             ("bwrap", 128 + 11): "the worker was killed by SIGSEGV (a crash in native code)",
             ("bwrap", 1): "the worker exited with code 1"}
    for (level, code), text in cases.items():
        worker.isolation, worker.proc = level, Finished(code)
        assert worker.exit_description() == text


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("count", [5, pytest.param(50, marks=pytest.mark.slow)])
def test_fds_threads_and_children_do_not_leak(level, count):
    spec = SandboxSpec(isolation=level, preload=())
    WorkerClient.start(spec).close()  # warm up lazily opened fds
    fds, threads = open_fds(), threading.active_count()
    kept = []
    for _ in range(count):
        client = WorkerClient.start(spec)
        client.close()
        kept.append(client)  # a closed client kept alive (by a RemoteObject, say) holds no fd
    assert open_fds() == fds
    started = {client.process.proc.pid for client in kept}
    assert all(client.process.proc.returncode is not None for client in kept)  # reaped
    assert started.isdisjoint(zombie_children())
    deadline = time.monotonic() + 2
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads


def test_kill_is_idempotent_and_removes_the_scratch_folder():
    worker = WorkerProcess(SandboxSpec(isolation="process", preload=())).start()
    scratch = worker._host_scratch
    assert scratch.is_dir() and worker.alive
    worker.kill()
    worker.kill()
    assert not worker.alive and not scratch.exists()
    assert worker.exit_description() == "the worker was killed by SIGKILL (out of memory, or " \
                                        "killed by the grader)"


@needs_bwrap
@pytest.mark.skipif(os.getuid() != 0, reason="uids are dropped only when the grader is root")
def test_concurrent_bwrap_workers_run_as_distinct_unprivileged_uids():
    spec = SandboxSpec(isolation="bwrap", preload=())
    clients = [WorkerClient.start(spec) for _ in range(3)]
    try:
        uids = [client.info["uid"] for client in clients]
        assert len(set(uids)) == 3 and min(uids) >= UID_BASE
    finally:
        for client in clients:
            client.close()


def run_grader_script(body: str, timeout: float = 30) -> subprocess.CompletedProcess:
    script = textwrap.dedent("""
        import os, signal, sys, threading
        from grading.rpc.client import WorkerClient
        from grading.sandbox.launcher import SandboxSpec
        from grading.session import WorkerPool
    """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout, cwd=launcher.REPO_ROOT)


def wait_gone(pid: int, seconds: float = 5) -> bool:
    """True once ``pid`` has exited (gone, or a zombie nobody reaps)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_workers_left_open_are_killed_when_the_grader_exits():
    proc = run_grader_script("""
        pool = WorkerPool(SandboxSpec(isolation="process", preload=()))
        client = pool.acquire()
        module = client.load_submission({"submission.py": b"import time\\n"})
        print(client.process.proc.pid, pool._spare.process.proc.pid,
              client.process._host_scratch, pool._spare.process._host_scratch)
        # exits without closing the pool or the client
    """)
    assert proc.returncode == 0, proc.stderr
    *pids, scratch, spare_scratch = proc.stdout.split()
    assert all(wait_gone(int(pid)) for pid in pids)
    assert not Path(scratch).exists() and not Path(spare_scratch).exists()


def test_a_busy_worker_dies_with_a_grader_that_was_killed():
    proc = run_grader_script("""
        client = WorkerClient.start(SandboxSpec(isolation="process", preload=()))
        module = client.load_submission({"submission.py": b"def spin():\\n    while True: pass\\n"})
        print(client.process.proc.pid, client.process._host_scratch, flush=True)
        threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
        module.spin()
    """)
    assert proc.returncode == -signal.SIGKILL
    pid, scratch = proc.stdout.split()[:2]
    try:
        assert wait_gone(int(pid)), "the worker outlived the grader"
    finally:
        if not wait_gone(int(pid), 0):
            os.kill(int(pid), signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)  # a grader killed by SIGKILL cannot clean up


def test_python_executable_has_no_dot_dot(monkeypatch):
    import sys

    from grading.sandbox.launcher import python_executable

    monkeypatch.setattr(sys, "executable", "/opt/x/lab/../.venv/bin/python")
    assert python_executable() == "/opt/x/.venv/bin/python"


def test_private_tmp_is_mounted_before_binds_that_may_lie_below_it():
    """A checkout or virtual environment under /tmp must stay visible in the sandbox."""
    import json

    from grading.sandbox.launcher import SandboxSpec, bwrap_argv

    argv = bwrap_argv(SandboxSpec(), {"limits": {}}, {})
    tmp_at = next(i for i, a in enumerate(argv) if a == "/tmp" and argv[i - 1] == "--tmpfs")
    binds = [i for i, a in enumerate(argv) if a == "--ro-bind"]
    assert all(tmp_at < i for i in binds), "a --ro-bind comes before the private /tmp"
    assert json.loads(argv[-1]) == {"limits": {}}
