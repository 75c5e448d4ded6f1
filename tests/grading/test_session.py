"""Submissions on disk, the warm worker pool, and restarting a submission after a failure."""

from __future__ import annotations

import os
import time

import pytest

from grading import session as session_module
from grading.rpc.errors import CallTimeout, StudentError, WorkerDied
from grading.rpc.proxy import RemoteObject
from grading.sandbox.launcher import SandboxSpec
from grading.sandbox.limits import SandboxLimits
from grading.session import (
    ImportOutcome,
    LiveModule,
    SubmissionSession,
    WorkerPool,
    read_submission_files,
)

SPEC = SandboxSpec(isolation="process", preload=())

STUDENT = b'''
import os

LIMIT = 3


def double(x):
    return 2 * x


def limit():
    return LIMIT


def crash():
    os._exit(5)


def pid():
    return os.getpid()
'''


# -- read_submission_files -------------------------------------------------------------------------
def test_a_py_file_becomes_submission_py(tmp_path):
    path = tmp_path / "alice_lab1.py"
    path.write_text("x = 1\n")
    assert read_submission_files(path) == {"submission.py": b"x = 1\n"}


def test_a_file_that_is_not_python_is_refused(tmp_path):
    path = tmp_path / "submission.zip"
    path.write_bytes(b"PK")
    with pytest.raises(ValueError, match=r"must be a \.py file; received submission\.zip"):
        read_submission_files(path)


def test_a_missing_path_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no submission at .*expected a folder holding "
                                         "submission.py"):
        read_submission_files(tmp_path / "nothing")


def test_a_folder_gives_its_files_by_relative_path(tmp_path):
    (tmp_path / "submission.py").write_text("import helpers.util\n")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "util.py").write_text("y = 2\n")
    (tmp_path / "weights.txt").write_bytes(b"\x00\x01")
    assert read_submission_files(tmp_path) == {"helpers/util.py": b"y = 2\n",
                                               "submission.py": b"import helpers.util\n",
                                               "weights.txt": b"\x00\x01"}


def test_a_folder_uploaded_as_it_is_is_graded_from_inside(tmp_path):
    (tmp_path / "lab_gmm" / "results").mkdir(parents=True)
    (tmp_path / "lab_gmm" / "submission.py").write_text("x = 1\n")
    (tmp_path / "lab_gmm" / "results" / "run.json").write_text("{}")
    (tmp_path / ".DS_Store").write_text("")
    assert read_submission_files(tmp_path) == {"submission.py": b"x = 1\n",
                                               "results/run.json": b"{}"}
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "submission.py").write_text("x = 2\n")
    with pytest.raises(ValueError, match="no submission.py in"):  # two candidates: no guess
        read_submission_files(tmp_path)


def test_hidden_files_caches_and_symlinks_are_skipped(tmp_path):
    (tmp_path / "submission.py").write_text("x = 1\n")
    for hidden in (".env", ".git/config", "notes/.DS_Store", "__pycache__/submission.pyc",
                   "pkg/__pycache__/m.pyc", "pkg/.hidden/deep.py"):
        (tmp_path / hidden).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / hidden).write_text("secret")
    (tmp_path / "link.py").symlink_to(tmp_path / "submission.py")
    assert sorted(read_submission_files(tmp_path)) == ["submission.py"]


def test_a_folder_without_submission_py_lists_what_it_holds(tmp_path):
    (tmp_path / "Submission.PY").write_text("x = 1\n")
    (tmp_path / "notes.md").write_text("hi")
    with pytest.raises(ValueError) as info:
        read_submission_files(tmp_path)
    message = str(info.value)
    assert "no submission.py in" in message
    assert "(found: Submission.PY, notes.md)" in message
    assert "The file to submit is named submission.py." in message


def test_an_empty_folder_says_it_found_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"\(found: nothing\)"):
        read_submission_files(tmp_path)


def test_a_submission_too_large_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "MAX_SUBMISSION_BYTES", 1 << 20)
    (tmp_path / "submission.py").write_text("x = 1\n")
    (tmp_path / "big.bin").write_bytes(b"\0" * ((1 << 20) + 1))
    with pytest.raises(ValueError, match="larger than 1 MB or 200 files"):
        read_submission_files(tmp_path)


def test_a_submission_of_too_many_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "MAX_SUBMISSION_FILES", 5)
    (tmp_path / "submission.py").write_text("x = 1\n")
    for i in range(5):
        (tmp_path / f"extra_{i}.py").write_text("")
    with pytest.raises(ValueError, match="or 5 files; submit submission.py and the files the "
                                         "lab asks for only"):
        read_submission_files(tmp_path)


# -- WorkerPool ------------------------------------------------------------------------------------
@pytest.fixture
def pool():
    made = WorkerPool(SPEC)
    yield made
    made.close()


def test_the_pool_hands_out_its_warm_spare(pool):
    first = pool.acquire()
    try:
        assert first.alive and first.info["pid"] == first.process.proc.pid
        spare = pool._spare
        assert spare is not None and spare is not first and pool.started == 2
        second = pool.acquire()
        assert second is spare and pool.started == 3
        second.close()
    finally:
        first.close()


def test_a_dead_spare_is_replaced(pool):
    first = pool.acquire()
    first.close()
    dead = pool._spare
    dead.close()
    replacement = pool.acquire()
    try:
        assert replacement is not dead and replacement.alive and pool.started == 4
    finally:
        replacement.close()


def test_closing_the_pool_kills_its_spare(pool):
    pool.acquire().close()
    spare = pool._spare
    pool.close()
    assert not spare.alive and pool._spare is None
    pool.close()  # idempotent


def test_a_pool_without_spares_starts_one_worker_per_acquire():
    pool = WorkerPool(SPEC, spares=0)
    client = pool.acquire()
    try:
        assert pool._spare is None and pool.started == 1 and client.alive
    finally:
        client.close()


# -- SubmissionSession -----------------------------------------------------------------------------
@pytest.fixture
def make_session(pool):
    made = []

    def make(source: bytes = STUDENT):
        made.append(SubmissionSession(pool, {"submission.py": source}))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_the_module_is_loaded_once_per_worker(make_session):
    session = make_session()
    module = session.module()
    assert isinstance(module, RemoteObject) and session.module() is module
    assert module.double(21) == 42 and session.isolation == "process"


def test_a_crash_gets_a_fresh_worker_for_the_next_call(make_session):
    session = make_session()
    first_pid = session.module().pid()
    with pytest.raises(WorkerDied, match="exited with code 5"):
        session.module().crash()
    assert session.module().pid() != first_pid
    assert session.restarts == 1 and session.module().double(2) == 4


@pytest.mark.parametrize("source, error", [
    (b"raise ValueError('broken at import')\n", StudentError),
    (b"import os\nos._exit(0)\n", WorkerDied),
])
def test_an_import_error_is_kept_and_every_test_fails_fast_with_it(make_session, pool, source,
                                                                   error):
    session = make_session(source)
    with pytest.raises(error) as first:
        session.module()
    started, clock = pool.started, time.monotonic()
    for _ in range(3):
        with pytest.raises(error) as again:
            session.module()
        assert again.value is first.value
        depth = len(list(_frames(again.value.__traceback__)))
        assert depth < 5, "the kept error's traceback grows with every test"
    assert pool.started == started and time.monotonic() - clock < 0.5  # no new worker


def _frames(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_importing_is_not_charged_to_the_first_tests_time_limit(make_session):
    slow_import = b"import time\ntime.sleep(0.8)\n\ndef f():\n    return 1\n"
    session = make_session(slow_import)
    session.set_time_limit(0.5)  # the first test's limit, shorter than the import
    assert session.module().f() == 1
    budget = session.client.budget
    assert budget.cpu_used_s < 0.2  # the import's CPU time was not charged
    assert budget.wall_deadline - time.monotonic() > 0.2  # nor its wall-clock time
    session.set_time_limit(None)
    assert session.client.budget is None


def test_a_test_time_limit_bounds_its_calls(make_session):
    session = make_session(b"import time\n\ndef nap(s):\n    time.sleep(s)\n")
    session.module()
    session.set_time_limit(0.3)
    with pytest.raises(CallTimeout):
        session.module().nap(5)
    session.set_time_limit(None)
    assert session.module().nap(0) is None and session.restarts == 1


def test_take_output_and_close(make_session):
    session = make_session(b"def hi():\n    print('hi')\n")
    assert session.take_output() == ""  # no worker yet
    session.module().hi()
    assert session.take_output() == "hi\n"
    client = session.client
    session.close()
    assert not client.alive and session.client is None


# -- LiveModule ------------------------------------------------------------------------------------
def test_live_module_reaches_the_current_worker(make_session):
    session = make_session()
    live = LiveModule(session)
    assert live.double(4) == 8 and repr(live) == "<student submission (remote)>"
    with pytest.raises(WorkerDied):
        live.crash()
    assert live.double(5) == 10  # transparently restarted
    with pytest.raises(AttributeError):
        live.__wrapped__  # noqa: B018 - dunder probes stay local


def test_setting_an_attribute_of_the_live_module_sets_it_in_the_sandbox(make_session):
    session = make_session()
    live = LiveModule(session)
    live.LIMIT = 10
    assert live.limit() == 10 and live.LIMIT == 10
    assert "LIMIT" not in vars(live)


def test_pid_of_session_worker_is_not_ours(make_session):
    assert make_session().module().pid() != os.getpid()


def test_limits_of_the_pool_reach_the_worker():
    pool = WorkerPool(SandboxSpec(isolation="process", preload=(),
                                  limits=SandboxLimits(call_timeout_s=0.3)), spares=0)
    session = SubmissionSession(pool, {"submission.py": b"import time\n\ndef nap():\n"
                                                        b"    time.sleep(5)\n"})
    try:
        with pytest.raises(CallTimeout, match="within 0.3 s"):
            session.module().nap()
    finally:
        session.close()
        pool.close()


def test_a_slow_import_costs_its_limit_once_per_grading_run():
    """The import that ran out of time is the import error of every later test module: the
    submission pays ``import_timeout_s`` once, not once per module."""
    pool = WorkerPool(SandboxSpec(isolation="process", preload=(),
                                  limits=SandboxLimits(import_timeout_s=0.5)), spares=0)
    files = {"submission.py": b"import time\ntime.sleep(30)\n"}
    imports = ImportOutcome()
    try:
        first = SubmissionSession(pool, files, imports)
        with pytest.raises(CallTimeout, match="importing submission.py"):
            first.module()
        first.close()
        started, clock = pool.started, time.monotonic()
        later = SubmissionSession(pool, files, imports)  # the next test module
        with pytest.raises(CallTimeout, match="importing submission.py"):
            later.module()
        assert pool.started == started and time.monotonic() - clock < 0.5
    finally:
        pool.close()
