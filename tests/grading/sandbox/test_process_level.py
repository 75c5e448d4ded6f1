"""The process isolation level of a root grader: a dedicated unprivileged uid per worker.

Where that uid can run Python (a system Python that others may read), the worker's forks are
bounded by RLIMIT_NPROC, its strays are killed after every call and when it is closed, and it
cannot write the grader's files. Where it cannot (a Python under /root), the worker is refused
with a message that says what to fix: it never runs as root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from grading.sandbox import launcher, procfs
from grading.sandbox.launcher import UID_BASE, SandboxSpec
from tests.readable_python import python_others_can_run, temporary_readable_python

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="uids are dropped only by a root grader")

ATTACKS = textwrap.dedent("""
    import os, time

    def fork_bomb():
        forked = 0
        for _ in range(2000):  # bounded: a broken limit leaves 2000 sleepers, not a dead machine
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            forked += 1
        return forked

    def daemon():
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(30)
            os._exit(0)
        time.sleep(0.2)
        return "started"

    def daemon_then_hang():
        daemon()
        time.sleep(30)

    def write(path):
        try:
            with open(os.path.expanduser(path), "w") as f:
                f.write("ATTACK-SUCCEEDED")
            return "wrote"
        except OSError as exc:
            return type(exc).__name__
""")

GRADER = textwrap.dedent("""
    import json, os, sys, time
    from grading.rpc.budget import TimeBudget
    from grading.rpc.client import WorkerClient
    from grading.sandbox import procfs
    from grading.sandbox.launcher import SandboxSpec

    def live(uid, but=()):
        return [pid for pid, owner in procfs.processes()
                if owner == uid and pid not in but and not procfs.is_zombie(pid)]

    targets = json.loads(sys.argv[2])
    client = WorkerClient.start(SandboxSpec(isolation="process", preload=()))
    uid, pid = client.process.uid, client.info["pid"]
    module = client.load_submission({"submission.py": sys.argv[1].encode()})
    report = {"uid": client.info["uid"], "assigned": uid, "forked": module.fork_bomb()}
    report["after_bomb"] = {p: procfs.state(p) for p in live(uid, but=(pid,))}
    report["daemon"] = module.daemon()
    report["after_daemon"] = live(uid, but=(pid,))
    report["writes"] = [module.write(path) for path in targets]
    client.budget = TimeBudget(2, time.monotonic() + 2)  # a test's limit: killed mid-call
    try:
        module.daemon_then_hang()
    except Exception as exc:
        report["hang"] = type(exc).__name__
    client.close()
    report["after_close"] = live(uid)
    print(json.dumps(report))
""")


@pytest.fixture(scope="module")
def readable_python():
    """A virtual environment that others may read, of a system Python, seeing this one's
    packages and the repository (through a .pth file)."""
    python, folder = temporary_readable_python()
    try:
        if python is None:
            pytest.skip("no system Python of this version, or packages, that an unprivileged "
                        "user can read")
        yield python
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(120)
def test_a_root_grader_runs_process_workers_as_a_bounded_unprivileged_uid(readable_python,
                                                                          tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    targets = [str(out / "results.json"), str(launcher.REPO_ROOT / "ATTACK-MARK"), "~/../MARK"]
    proc = subprocess.run([readable_python, "-c", GRADER, ATTACKS, json.dumps(targets)],
                          capture_output=True, text=True, timeout=100, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert "runs student code as root" not in proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["uid"] == report["assigned"] >= UID_BASE
    assert 0 < report["forked"] < 256, "the process limit did not hold"
    assert report["after_bomb"] == {}, "the fork bomb's sleepers (pid: state) outlived the call"
    assert report["daemon"] == "started" and report["after_daemon"] == [], \
        "a daemon outlived the call"
    assert report["writes"] == ["PermissionError"] * len(targets)
    assert not (launcher.REPO_ROOT / "ATTACK-MARK").exists()
    assert report["hang"] == "CallTimeout"
    assert report["after_close"] == [], "a process of the worker's uid outlived it"


def test_without_a_python_others_can_run_the_worker_is_refused_not_run_as_root(monkeypatch):
    monkeypatch.setattr(launcher, "_unreadable_by_others", lambda paths: "/root/venv/bin/python")
    spec = SandboxSpec(isolation="process", preload=())
    problem = launcher.process_level_problem(spec)
    assert "can read /root/venv/bin/python" in problem and "chmod o+rX" in problem
    assert "apt-get install bubblewrap" in problem and "LABS_WORKER_PYTHON" in problem
    with pytest.raises(launcher.SandboxRefused, match="never runs as root"):
        launcher.require_unprivileged_workers(spec)
    started = set(procfs.processes())
    with pytest.raises(launcher.SandboxRefused):
        launcher.WorkerProcess(spec).start()
    assert not any(uid == 0 and pid not in dict(started)
                   for pid, uid in procfs.processes()
                   if "grading.sandbox.worker" in _cmdline(pid)), "a worker started as root"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_batch_and_grade_one_refuse_up_front(monkeypatch, tmp_path):
    """A TA's batch stops before grading anyone; a single grading writes an error result that
    says why, not a 0 that blames the student."""
    from grading.batch import BatchGrader
    from grading.grade_one import grade_submission

    monkeypatch.setattr(launcher, "_unreadable_by_others", lambda paths: "/root/venv/bin/python")
    lab = Path(__file__).parents[1] / "fixture_lab"
    with pytest.raises(launcher.SandboxRefused, match="nothing was graded"):
        BatchGrader(lab, tmp_path / "out", isolation="process")
    result = grade_submission(lab, lab / "submission.py", isolation="process")
    assert result.status == "error" and "never runs as root" in result.error


def test_unreadable_by_others_names_the_first_path_others_cannot_read():
    python = python_others_can_run()
    if python is None:
        pytest.skip("no system Python of this version that an unprivileged user can run")
    folder = Path(tempfile.mkdtemp())  # pytest's own temporary folders are root's alone
    try:
        folder.chmod(0o755)
        (folder / "hidden").mkdir(mode=0o700)
        (folder / "open").mkdir(mode=0o755)
        paths = (python, str(folder / "open"), str(folder / "hidden"))
        assert launcher._unreadable_by_others(paths) == str(folder / "hidden")
        assert launcher._unreadable_by_others(paths[:2]) is None
    finally:
        shutil.rmtree(folder)
    assert launcher._unreadable_by_others(("/nonexistent/python",)) == "/nonexistent/python"


def test_grading_a_lab_is_refused_while_the_uid_could_read_what_tests_grade_against(
        readable_python, monkeypatch):
    """Plain processes cannot hide files: a root grader refuses the process level while the
    sandbox uid could read the lab's instructor/ folder or a graded dataset, and accepts it
    once both are root-only (as the autograder's setup.sh leaves them)."""
    monkeypatch.setenv(launcher.WORKER_PYTHON_ENV, readable_python)
    tmp_path = Path(tempfile.mkdtemp())  # pytest's own temporary folders are root's alone
    request_cleanup = shutil.rmtree
    tmp_path.chmod(0o755)
    lab = tmp_path / "lab"
    shutil.copytree(Path(__file__).parents[1] / "fixture_lab", lab)
    for folder in (lab, *[p for p in lab.rglob("*") if p.is_dir()]):
        folder.chmod(0o755)
    for file in (p for p in lab.rglob("*") if p.is_file()):
        file.chmod(0o644)
    dataset = tmp_path / "dataset"
    dataset.mkdir(mode=0o755)
    (dataset / "labels.csv").write_text("6\n")
    monkeypatch.setattr(launcher, "_hidden_dirs", lambda: (dataset,))
    spec = SandboxSpec(isolation="process", lab_dir=lab)

    problem = launcher.process_level_problem(spec)
    assert problem is not None and str(lab / "instructor") in problem and "bubblewrap" in problem
    (lab / "instructor").chmod(0o700)
    launcher._readable_by_others.cache_clear()  # a grader probes once per permission set-up
    problem = launcher.process_level_problem(spec)
    assert problem is not None and str(dataset) in problem and "chmod -R go-rwx" in problem
    dataset.chmod(0o700)
    launcher._readable_by_others.cache_clear()
    assert launcher.process_level_problem(spec) is None
    request_cleanup(tmp_path, ignore_errors=True)
