"""Export a :class:`SubmissionResult` as Gradescope's autograder ``results.json``.

The layout follows the Gradescope autograder specification ("Output format",
https://gradescope-autograders.readthedocs.io/en/latest/specs/); the strict profile this module
writes is pinned by ``tests/grading/gradescope_results.schema.json``.

- Pending manual items (written answers) are *not* test rows: Gradescope grades written
  questions itself, and a 0/N row would distort the autograder score. The top-level ``output``
  says how many points are graded by hand.
- A row is ``"passed"`` only with full marks; partial credit is ``"failed"`` with its score.
- The isolation level and grader version appear in the top-level ``output`` and ``extra_data``.
- All text is plain (``"text"`` format, shown in a ``<pre>``), so student output cannot inject
  HTML or Markdown; each test's ``output`` is capped at ``TEST_OUTPUT_CAP`` characters.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from grading.report.result import (
    SubmissionResult,
    TestResult,
    atomic_write_text,
    clean_text,
    format_points,
    truncate_text,
)

TEST_OUTPUT_CAP = 8192
"""Most characters of one test's ``output`` in results.json."""
TOP_OUTPUT_CAP = 16384
"""Most characters of the top-level ``output``."""
FIELD_CAP = 2048
"""Most characters of one of reason / expected / received / hint inside a test's output."""
TEXT_FORMAT = "text"


def _block(label: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = truncate_text(clean_text(value).strip("\n"), FIELD_CAP)
    if "\n" in value:
        return f"{label}:\n{value}"
    return f"{label}: {value}"


def format_test_output(test: TestResult, cap: int = TEST_OUTPUT_CAP) -> str:
    """The text of one test's ``output``: reason, expected, received and hint first (each
    capped at ``FIELD_CAP``), then the captured output, all within ``cap`` characters."""
    parts = [
        _block("Reason", test.reason),
        _block("Expected", test.expected),
        _block("Received", test.received),
        _block("Hint", test.hint),
    ]
    header = "\n".join(p for p in parts if p)
    captured = clean_text(test.output).strip("\n")
    if not captured:
        return truncate_text(header, cap)
    if not header:
        return truncate_text(captured, cap)
    label = "\n\nOutput:\n"
    room = cap - len(header) - len(label)
    if room < 200:  # keep the explanation; the captured output gets what is left, if anything
        return truncate_text(header, cap)
    return header + label + truncate_text(captured, room)


def _test_entry(test: TestResult, cap: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": clean_text(test.name)}
    if test.number is not None:
        entry["number"] = test.number
    full = test.status == "passed" and test.score == test.max_score
    entry.update(
        score=test.score,
        max_score=test.max_score,
        status="passed" if full else "failed",
        visibility=test.visibility,
        output=format_test_output(test, cap),
        tags=list(test.tags),
        extra_data={"kind": test.kind},
    )
    return entry


def summary_text(result: SubmissionResult) -> str:
    """The top-level ``output``: score line, hand-graded points, isolation and grader version,
    an error explanation when the grader could not grade, then the result's own output."""
    lines = []
    if result.status == "error":
        lines.append(f"{result.lab}: the autograder could not grade this submission: "
                     f"{clean_text(result.error or '').strip()}")
        lines.append(f"Autograder score: {format_points(result.score)} / "
                     f"{format_points(result.max_score)}.")
    else:
        lost = sum(1 for t in result.graded_tests if t.lost_points)
        lines.append(f"{result.lab}: autograder score {format_points(result.score)} / "
                     f"{format_points(result.max_score)} ({len(result.graded_tests)} checks, "
                     f"{lost} lost points).")
    pending = result.pending_tests
    if pending:
        names = ", ".join(clean_text(t.name) for t in pending)
        lines.append(f"{format_points(result.pending_points)} points of written answers are "
                     f"graded by hand ({names}); they are not part of the score above.")
    lines.append(f"Isolation: {result.isolation}. Grader version: {result.grader_version}.")
    text = "\n".join(lines)
    extra = clean_text(result.output).strip("\n")
    if extra:
        text += "\n\n" + truncate_text(extra, max(0, TOP_OUTPUT_CAP - len(text) - 2))
    return text


def to_gradescope(result: SubmissionResult, *, test_output_cap: int = TEST_OUTPUT_CAP
                  ) -> dict[str, Any]:
    """The Gradescope ``results.json`` content for ``result``, as a dict in a fixed key order."""
    result.validate()
    tests = [_test_entry(t, test_output_cap) for t in result.graded_tests]
    return {
        "score": result.score,
        "execution_time": result.execution_time,
        "output": summary_text(result),
        "output_format": TEXT_FORMAT,
        "test_output_format": TEXT_FORMAT,
        "test_name_format": TEXT_FORMAT,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "submission_id": result.submission_id,
            "lab": result.lab,
            "status": result.status,
            "error": result.error,
            "isolation": result.isolation,
            "grader_version": result.grader_version,
            "content_hash": result.content_hash,
            "max_score": result.max_score,
            "pending_points": result.pending_points,
            "pending_manual": [
                {"name": t.name, "max_score": t.max_score} for t in result.pending_tests
            ],
        },
        "tests": tests,
    }


def dumps_results(result: SubmissionResult) -> str:
    """``to_gradescope(result)`` as deterministic JSON text with a trailing newline."""
    text = json.dumps(to_gradescope(result), indent=2, sort_keys=False, allow_nan=False)
    return text + "\n"


def write_results_json(result: SubmissionResult, path: str | os.PathLike[str]) -> Path:
    """Atomically write the Gradescope ``results.json`` of ``result`` to ``path``."""
    return atomic_write_text(path, dumps_results(result))
