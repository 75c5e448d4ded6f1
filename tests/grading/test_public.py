"""What ``grade.py`` shows a student: the public tests run like the grader runs them."""

from __future__ import annotations

import sys
from pathlib import Path

from grading.examples import reference_submission, write_submission
from grading.public import format_table, format_test_results, run_public_tests
from grading.report.result import TestResult

LAB = Path(__file__).parent / "fixture_lab"


def test_public_tests_on_the_stub_and_on_the_reference(tmp_path, public_lab):
    tests, level, _, _ = run_public_tests(public_lab, isolation="process")
    assert level == "process"
    assert [(t.name, t.status) for t in tests] == [("softmax rows sum to 1", "failed"),
                                                   ("RunningMean starts at 0", "passed")]
    reference = write_submission(reference_submission(LAB), tmp_path / "me")
    tests = run_public_tests(public_lab, reference, isolation="process").tests
    assert [t.status for t in tests] == ["passed", "passed"]


def test_the_labs_conftest_is_its_own_inside_another_pytest_session(public_lab):
    """This session imported the project's tests/conftest.py; the lab's tests/conftest.py
    must still be imported from the lab (not found in sys.modules under the same name)."""
    run_public_tests(public_lab, isolation="process")
    lab_conftests = [m for m in sys.modules.values()
                     if str(getattr(m, "__file__", "")).startswith(str(public_lab))]
    assert lab_conftests == []  # imported for the run, and forgotten after it


def test_format_table_aligns_columns():
    table = format_table(("check", "points"), [("a long name", "1/2"), ("b", "10/10")])
    assert table.splitlines() == ["check        points",
                                  "-----------  ------",
                                  "a long name  1/2",
                                  "b            10/10"]


def test_format_test_results_keeps_whole_reasons_wrapped_to_the_width():
    reason = "NotImplementedError: lab_sae: topk_activation " + "word " * 40
    tests = [TestResult(name="t", max_score=2, score=0.5, status="failed", reason=reason),
             TestResult(name="u", max_score=1, score=1, status="passed")]
    text = format_test_results(tests, width=60)
    table, why = text.split("\n\n")
    assert table.splitlines()[2].startswith("t      0.5/2   failed")
    assert all(len(line) <= 60 for line in why.splitlines())
    assert " ".join(why.split()) == "why: - t: " + " ".join(reason.split())  # nothing cut
    assert "u:" not in why


def test_format_test_results_puts_the_import_note_first_once():
    tests = [TestResult(name=n, max_score=1, score=0, status="failed", reason="not run")
             for n in ("a", "b")]
    text = format_test_results(tests, "submission.py does not import: SyntaxError", width=80)
    assert text.startswith("submission.py does not import: SyntaxError\n\n")
    assert text.count("SyntaxError") == 1
