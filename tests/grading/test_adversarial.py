"""The adversarial corpus: each attack gets the score it deserves, with a clear reason.

Every case is graded the way a TA grades (``python -m grading grade-one`` in a subprocess)
against the fixture lab. Attacks that only a real sandbox can stop (file system, network,
daemons) are skipped where bubblewrap is not available.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from grading.examples import apply_patch, reference_submission, write_submission
from grading.sandbox.cgroups import WorkerCgroup
from grading.sandbox.launcher import UID_BASE, bwrap_works
from grading.sandbox.limits import MIB

HERE = Path(__file__).parent
LAB = HERE / "fixture_lab"
CORPUS = HERE / "adversarial"
SCHEMA = json.loads((HERE / "gradescope_results.schema.json").read_text())
FULL = 10.0


@dataclass(frozen=True)
class Case:
    score: float
    reason: str | None = None  # a regex that feedback.md must contain
    needs_bwrap: bool = False
    needs_cgroup: bool = False  # only a control group's memory limit stops it


CASES = {
    "infinite_loop": Case(4, r"timed out"),
    "memory_bomb": Case(8, r"MemoryError|out of memory"),
    "fork_bomb": Case(8, r"forked \d+ processes", needs_bwrap=True),
    "os_exit_at_import": Case(0, r"exited with code 0"),
    "sys_exit_at_import": Case(0, r"SystemExit"),
    "sigterm_ignored": Case(8, r"timed out"),
    "read_instructor": Case(FULL, needs_bwrap=True),
    "write_outside": Case(FULL, needs_bwrap=True),
    "monkeypatch_libraries": Case(5, r"wrong result"),
    "lying_eq": Case(5, r"must return an ndarray"),
    "ndarray_subclass": Case(5, r"wrong result"),
    "network_listener": Case(FULL, needs_bwrap=True),
    "print_flood": Case(FULL),
    "daemon_child": Case(FULL, needs_bwrap=True),
    "forged_response": Case(4, r"invalid message"),
    "syntax_error": Case(0, r"SyntaxError"),
    "missing_import": Case(0, r"ModuleNotFoundError"),
    "empty_file": Case(0, r"has no attribute 'softmax'"),
    "cpu_burner": Case(FULL),
    # stopped by the memory limit, or by the CPU limit when filling 4 GiB of pages is slower
    "memfd_bomb": Case(4, r"memory limit of|time limit of 3 s of CPU", needs_cgroup=True),
    "slow_import": Case(0, r"importing submission.py did not finish within 30.0 s"),
    "sleeper": Case(8, r"waits \(sleep, a lock, a pipe\) instead of computing"),
    "read_labels": Case(FULL, needs_bwrap=True),
}


def cgroups_work() -> bool:
    group = WorkerCgroup.create(64 * MIB)
    if group is None or group.memory is None:
        return False
    group.remove()
    return True


def build_submission(case: str, folder: Path, **placeholders: str) -> Path:
    attack = (CORPUS / f"{case}.py").read_text()
    for key, value in placeholders.items():
        attack = attack.replace("{" + key + "}", value)
    return write_submission(apply_patch(reference_submission(LAB), attack), folder)


class Listener:
    """A TCP listener on 127.0.0.1 that records whatever reaches it (bounded in time)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received += conn.recv(1 << 16)
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def sandbox_processes(grader_pid: int) -> list[str]:
    """Processes still running as one of the sandbox uids of the grader ``grader_pid`` (the
    uids a root grader picks depend on its pid; other graders on the machine use others)."""
    first = UID_BASE + (grader_pid % 50000) * 16
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if first <= os.stat(f"/proc/{entry}").st_uid < first + 16:
                    found.append(entry)
            except OSError:
                pass
    return found


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", sorted(CASES))
def test_attack_gets_the_score_it_deserves(case, tmp_path):
    expected = CASES[case]
    if expected.needs_bwrap and not bwrap_works():
        pytest.skip("only bubblewrap isolation stops this attack; install bubblewrap")
    if expected.needs_cgroup and not cgroups_work():
        pytest.skip("only a control group stops this attack; the grader may not create one")
    out = tmp_path / "out"
    out.mkdir()
    mark = f"attack-marker-{uuid.uuid4().hex}"
    listener = Listener()
    try:
        submission = build_submission(case, tmp_path / case, OUT=str(out), LAB=str(LAB),
                                      PORT=str(listener.port), MARK=mark)
        proc = subprocess.Popen(
            [sys.executable, "-m", "grading", "grade-one", "--lab", str(LAB),
             "--submission", str(submission), "--out", str(out), "--submission_id", case],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        stdout, stderr = proc.communicate(timeout=170)
    finally:
        listener.close()
    assert proc.returncode == 0, stdout + stderr
    results = json.loads((out / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    feedback = (out / "feedback.md").read_text()

    assert results["score"] == pytest.approx(expected.score), feedback
    if expected.reason:
        assert re.search(expected.reason, feedback), feedback
    assert "ATTACK-SUCCEEDED" not in feedback + json.dumps(results)
    assert listener.received == b"", listener.received[:200]
    assert not (out / mark).exists() and not (LAB / mark).exists()
    assert not Path("/tmp", mark).exists() and not (tmp_path / mark).exists()
    assert not (LAB / "instructor" / "rubric.json").read_text().startswith('{"score"')
    assert len(feedback) < 100_000 and (out / "results.json").stat().st_size < 200_000
    if bwrap_works() and os.getuid() == 0:
        assert sandbox_processes(proc.pid) == [], "a sandboxed process outlived grading"
    if case == "fork_bomb":
        forked = int(re.search(r"forked (\d+) processes", feedback).group(1))
        assert forked < 256, f"{forked} forks succeeded: the process limit did not hold"
    assert results["extra_data"]["isolation"] == ("bwrap" if bwrap_works() else "process")
