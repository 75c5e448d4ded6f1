"""The grader's pytest plugin, run the way the grader runs it (pytest in a subprocess) on small
throwaway test files against the fixture lab."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grading.examples import reference_submission
from grading.pytest_plugin import Credit, _unique_name, find_lab_dir
from grading.sandbox.launcher import bwrap_works
from grading.scoring import Threshold

LAB = Path(__file__).parent / "fixture_lab"

EXTRA = '''

def slow():
    import time
    time.sleep(30)


def noisy_failure():
    print("working on it")
    raise ValueError("gave up")


def crash():
    import os
    os.write(2, b"segfault-ish\\n")
    os._exit(9)
'''

TESTS = '''
import numpy as np
import pytest


@pytest.fixture
def broken_fixture():
    raise RuntimeError("fixture exploded")


@pytest.mark.points(3)
@pytest.mark.visibility("after_due_date")
def test_passes(submission):
    """softmax sums to one."""
    assert np.allclose(submission.softmax(np.zeros((2, 3))).sum(axis=1), 1)


@pytest.mark.points(2)
@pytest.mark.hint("Look at the sign.")
@pytest.mark.slow_hint("Not shown: this test fails by its result, not by time.")
def test_wrong(submission):
    """a wrong answer"""
    assert submission.fit_line(np.arange(3.0), np.arange(3.0))[0] == -1, "slope should be -1"


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_student_error(submission):
    submission.noisy_failure()


@pytest.mark.points(1)
@pytest.mark.time_limit(0.5)
@pytest.mark.hint("Check the formula.")
@pytest.mark.slow_hint("A loop over samples makes slow() slow.")
def test_too_slow(submission):
    """too slow"""
    submission.slow()


@pytest.mark.points(1)
def test_after_the_timeout(submission):
    """after a timeout"""
    assert submission.softmax(np.zeros((1, 2))).shape == (1, 2)


@pytest.mark.points(1)
def test_crash(submission):
    """crashes"""
    submission.crash()


@pytest.mark.points(4)
def test_partial(submission, rubric, credit):
    """partial credit"""
    credit.partial("r2", 0.725, rubric)


@pytest.mark.points(1)
def test_setup_fails(submission, broken_fixture):
    """setup fails"""


@pytest.mark.points(5)
def test_skipped(submission):
    pytest.skip("not today")


@pytest.mark.points(5)
@pytest.mark.skipif(True, reason="never")
def test_skipped_by_mark(submission):
    pass


@pytest.mark.points(1)
@pytest.mark.parametrize("n", [1, 2])
def test_param(submission, n):
    """parametrized"""
    assert n == 1


@pytest.mark.points(1)
def test_dup_a(submission):
    """same name"""


@pytest.mark.points(1)
def test_dup_b(submission):
    """same name"""


@pytest.mark.points(1)
def test_dup_c(submission):
    """same name"""


def test_no_points(submission):
    assert True


@pytest.mark.points(3)
def test_left_to_a_ta(submission, credit):
    """left to a TA"""
    credit.pending("the answer is in the report, not in a file: the TA reads it")
'''


def run_plugin(tmp_path: Path, tests: str, submission: str, *extra: str, lab: Path = LAB) -> dict:
    """Run pytest with the grading plugin on ``tests`` (one file) and return --grading-json."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_throwaway.py").write_text(tests)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "submission.py").write_text(submission)
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "tests"), "-p", "grading.pytest_plugin",
         "-p", "no:cacheprovider", "-q", f"--rootdir={tmp_path}", "-o", "addopts=",
         "--import-mode=importlib", f"--lab-dir={lab}", f"--submission={tmp_path / 'sub'}",
         "--preload=", f"--grading-json={out}", *extra],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.is_file(), proc.stdout + proc.stderr
    return json.loads(out.read_text()) | {"log": proc.stdout + proc.stderr}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plugin")
    payload = run_plugin(tmp, TESTS, reference_submission(LAB) + EXTRA, "--isolation=auto")
    payload["by_name"] = {t["name"]: t for t in payload["tests"]}
    return payload


def test_credit_pending_hands_the_points_to_a_ta(run):
    test = run["by_name"]["left to a TA (graded by hand)"]
    assert (test["status"], test["kind"], test["score"], test["max_score"]) == (
        "pending", "manual", 0, 3)
    assert test["output"] == "the answer is in the report, not in a file: the TA reads it"
    from grading.pytest_plugin import Credit

    with pytest.raises(ValueError, match="non-empty note"):
        Credit().pending("  ")


def test_isolation_is_recorded(run):
    assert run["isolation"] == ("bwrap" if bwrap_works() else "process")


def test_points_and_visibility(run):
    test = run["by_name"]["softmax sums to one"]
    assert (test["score"], test["max_score"], test["status"]) == (3, 3, "passed")
    assert test["visibility"] == "after_due_date" and test["hint"] is None
    assert run["by_name"]["test_student_error"]["visibility"] == "hidden"
    assert run["by_name"]["after a timeout"]["visibility"] == "visible"


def test_a_wrong_result_with_its_hint(run):
    test = run["by_name"]["a wrong answer"]
    assert (test["score"], test["max_score"], test["status"]) == (0, 2, "failed")
    assert test["reason"] == "wrong result"
    assert test["received"].startswith("slope should be -1")
    assert test["hint"] == "Look at the sign."


def test_a_student_error_shows_its_output_and_traceback(run):
    test = run["by_name"]["test_student_error"]  # no docstring: the function's name
    assert test["reason"] == "your code raised ValueError: gave up"
    assert "working on it" in test["output"]
    assert 'submission.py", line' in test["output"] and "ValueError: gave up" in test["output"]
    assert test["output"].index("working on it") < test["output"].index("ValueError: gave up")


def test_time_limit_marker(run):
    test = run["by_name"]["too slow"]
    assert test["status"] == "failed" and test["reason"].startswith("timed out")
    assert "the test's limit of 0.5 s of CPU time" in test["reason"]
    assert test["hint"] == "A loop over samples makes slow() slow."  # slow_hint, not hint
    assert test["duration_s"] < 10
    assert run["by_name"]["after a timeout"]["status"] == "passed"  # a fresh worker


def test_a_crash_fails_one_test_with_the_workers_last_words(run):
    test = run["by_name"]["crashes"]
    assert test["reason"] == ("your code stopped the worker process: the worker exited with "
                              "code 9 while calling crash")
    assert "segfault-ish" in test["output"]


def test_partial_credit(run):
    test = run["by_name"]["partial credit"]
    assert test["score"] == pytest.approx(2.0)  # r2 0.725: halfway from 0.5 to 0.95, of 4 points
    assert test["status"] == "failed" and test["kind"] == "performance"
    assert test["expected"] == "r2 >= 0.95 for full credit (no credit at 0.5)"
    assert test["received"] == "r2 = 0.725"
    assert test["reason"] == "partial credit: the result is below the full-credit target"


def test_a_setup_failure_is_recorded(run):
    test = run["by_name"]["setup fails"]
    assert (test["score"], test["max_score"], test["status"]) == (0, 1, "failed")
    assert "RuntimeError: fixture exploded" in test["reason"]


def test_skipped_tests_are_not_recorded(run):
    assert not any("skipped" in name for name in run["by_name"])
    assert len(run["tests"]) == 15, [t["name"] for t in run["tests"]]


def test_parametrized_and_duplicate_names(run):
    names = [t["name"] for t in run["tests"]]
    assert "parametrized [1]" in names and "parametrized [2]" in names
    assert run["by_name"]["parametrized [2]"]["status"] == "failed"
    dups = [n for n in names if n.startswith("same name")]
    assert dups == ["same name", "same name (test_throwaway)",
                    "same name (test_throwaway::test_dup_c)"]
    assert len(set(names)) == len(names)


def test_a_test_without_points_is_worth_nothing(run):
    test = run["by_name"]["test_no_points"]
    assert (test["score"], test["max_score"], test["status"]) == (0, 0, "passed")


def test_unique_name_never_repeats_a_name():
    class Item:
        path = Path("test_x.py")
        originalname = name = "test_y"

    taken: set[str] = set()
    for _ in range(6):
        taken.add(_unique_name("same", Item(), taken))
    assert len(taken) == 6 and "same (test_x::test_y) #3" in taken


def test_credit_partial_and_explain():
    credit = Credit()
    rubric = {"loss": Threshold("loss", floor=1.0, target=0.5, points=2)}
    assert credit.partial("loss", 0.75, rubric) == pytest.approx(0.5)
    assert credit.expected == "loss <= 0.5 for full credit (no credit at 1)"
    assert credit.partial("loss", float("nan"), rubric) == 0 and credit.received == "loss = nan"
    with pytest.raises(KeyError, match="rubric has no threshold 'acc'"):
        credit.partial("acc", 1.0, rubric)
    credit.explain(hint="try harder")
    assert credit.hint == "try harder" and credit.expected.startswith("loss <=")


def test_find_lab_dir():
    assert find_lab_dir(LAB / "instructor" / "hidden_tests") == LAB
    with pytest.raises(ValueError, match="no lab folder above"):
        find_lab_dir(Path("/"))


def test_public_tests_of_the_fixture_lab_run_as_a_student_runs_them(tmp_path, public_lab):
    """``pytest tests`` from the lab folder: the lab's conftest loads the plugin."""
    out = tmp_path / "public.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-p", "no:cacheprovider", "-q",
         "-o", "addopts=", "--import-mode=importlib", f"--grading-json={out}",
         "--isolation=process", f"--rootdir={public_lab}", f"--confcutdir={public_lab}"],
        capture_output=True, text=True, timeout=120, cwd=public_lab)
    payload = json.loads(out.read_text())
    assert [t["status"] for t in payload["tests"]] == ["failed", "passed"], proc.stdout
    assert "NotImplementedError" in payload["tests"][0]["reason"]


def test_an_unchanged_fixture_lab_is_graded_from_its_stub(tmp_path, public_lab):
    payload = run_plugin(tmp_path, textwrap.dedent('''
        import pytest


        @pytest.mark.points(1)
        def test_stub(submission):
            """the stub"""
            submission.fit_line([1.0], [1.0])
    '''), (LAB / "submission.py").read_text(), "--isolation=process", lab=public_lab)
    (test,) = payload["tests"]
    assert test["reason"] == ("not implemented yet (the stub still raises NotImplementedError: "
                              "fixture_lab: fit_line)")
    assert payload["isolation"] == "process"


def test_student_message_drops_pytests_rewrite_explanation():
    from grading.pytest_plugin import student_message

    rewritten = AssertionError("softmax rows must sum to 1\nassert False\n +  where False = f()")
    assert student_message(rewritten) == "softmax rows must sum to 1"
    assert student_message(AssertionError("plain message")) == "plain message"
    assert student_message(AssertionError("assert 1 == 2\n +  where 1 = f()")) == ""


def test_invalid_markers_stop_collection_with_one_clear_error(tmp_path, public_lab):
    payload = run_plugin(tmp_path, textwrap.dedent('''
        import pytest


        @pytest.mark.points("ten")
        @pytest.mark.visibility("secret")
        def test_a(submission):
            """a"""


        @pytest.mark.points(2)
        @pytest.mark.time_limit(0)
        @pytest.mark.slow_hint("")
        def test_b(submission):
            """b"""
    '''), (LAB / "submission.py").read_text(), "--isolation=process", lab=public_lab)
    log = payload["log"]
    assert "INTERNALERROR" not in log and payload["tests"] == []
    assert "invalid grading markers" in log
    assert "test_a: @pytest.mark.points takes a number >= 0" in log and "('ten',)" in log
    assert "test_a: @pytest.mark.visibility takes one of visible" in log
    assert "test_b: @pytest.mark.time_limit takes a number of seconds > 0" in log
    assert "test_b: @pytest.mark.slow_hint takes a non-empty string" in log


def test_the_graders_own_work_in_a_test_is_bounded_in_time():
    from grading.pytest_plugin import GraderTimeout, grader_deadline

    started = time.monotonic()
    with pytest.raises(GraderTimeout, match="ran past 0 s"), grader_deadline(0.3):
        while True:  # a check that never ends (a huge array from the sandbox, say)
            pass
    assert time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL  # restored


def test_the_graders_heap_is_bounded():
    """``grade-one`` bounds its own heap: an allocation past it is a MemoryError, not the
    machine's memory."""
    code = ("import numpy as np\nfrom grading.cli import limit_grader_memory\n"
            "limit_grader_memory(1 << 30)\n"
            "try:\n    np.ones(1 << 28)\nexcept MemoryError:\n    print('refused')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "refused", out.stderr[-2000:]


@pytest.mark.skipif(os.getuid() != 0, reason="a root grader's refusal")
def test_a_root_grader_refuses_plain_processes_that_could_read_the_hidden_tests(tmp_path):
    payload = run_plugin(tmp_path, textwrap.dedent('''
        import pytest


        @pytest.mark.points(1)
        def test_stub(submission):
            """the stub"""
            submission.fit_line([1.0], [1.0])
    '''), (LAB / "submission.py").read_text(), "--isolation=process")
    assert payload["tests"] == []
    assert "isolation 'process' cannot hide files" in payload["log"]
    assert str(LAB / "instructor") in payload["log"]
