"""The gradebook's CSV files: formula injection escaped in every cell, numbers left alone."""

from __future__ import annotations

import csv
import io

import pytest

from grading.batch import Skipped
from grading.gradebook import csv_cell, grades_csv, skipped_csv, timings_csv
from grading.report.result import SubmissionResult, TestResult

ATTACKS = ["=1+1", "+cmd", "-x", "--help", "@SUM(A1)", "\tTAB", "\r=1", "=HYPERLINK(\"u\",\"a\")"]


def _result(sid: str, error: str | None = None, test: str = "t1") -> SubmissionResult:
    tests = [TestResult(name=test, max_score=2, score=0 if error else 1, status="failed",
                        duration_s=0.5)]
    return SubmissionResult(submission_id=sid, lab="lab", tests=tests, isolation="bwrap",
                            grader_version="t", started_at="2026-01-01T00:00:00+00:00",
                            status="error" if error else "graded", error=error)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("text", ATTACKS)
def test_text_that_starts_like_a_formula_gets_a_leading_quote(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-1.5", "+2", "-0", "1e-3", "-.5", -1.5, 3, "alice", "a=b",
                                   "Zoë", ""])
def test_numbers_and_plain_text_are_kept(value):
    assert csv_cell(value) == str(value)


@pytest.mark.parametrize("text", ["'=1+1", "'alice"])
def test_a_leading_quote_is_escaped_too_so_the_escape_can_be_undone(text):
    assert csv_cell(text) == "'" + text
    assert csv_cell(text)[1:] == text


def test_grades_csv_escapes_ids_errors_and_test_names_but_not_scores():
    results = {sid: _result(sid) for sid in ATTACKS}
    results["bob"] = _result("bob", error="=cmd|' /C calc'!A0\nsecond line")
    results["ann"] = _result("ann", test="@evil test")
    rows = _rows(grades_csv(results))
    header, body = rows[0], {row[0]: row for row in rows[1:]}
    assert "'@evil test" in header
    assert sorted(body) == sorted(["'" + sid for sid in ATTACKS] + ["bob", "ann"])
    assert body["bob"][header.index("error")] == "'=cmd|' /C calc'!A0"
    for row in body.values():
        assert [row[header.index(c)] for c in ("score", "max_score")] in (["1", "2"], ["0", "2"])


def test_ordinary_ids_are_written_as_before():
    text = grades_csv({"alice": _result("alice")})
    assert text.splitlines()[1] == "alice,1,2,graded,bwrap,0,1,,1"


def test_timings_and_skipped_csv_are_escaped():
    rows = _rows(timings_csv({"-x": _result("-x", test="=t")}, {"-x": 1.25}))
    assert rows[1] == ["'-x", "0.00", "1.25", "'=t", "0.50"]
    rows = _rows(skipped_csv([Skipped("=1+1.txt", "a file that is not .py or .zip"),
                              Skipped("@x.zip", "a FIFO (named pipe)")]))
    assert rows == [["entry", "reason"], ["'=1+1.txt", "a file that is not .py or .zip"],
                    ["'@x.zip", "a FIFO (named pipe)"]]
    assert skipped_csv([]) == "entry,reason\n"
