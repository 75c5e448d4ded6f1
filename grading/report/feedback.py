"""Render a :class:`SubmissionResult` as Markdown feedback for the student (``feedback.md``).

Layout: a header (lab, autograder score, points graded by hand, isolation level), the grader's
note when there is one (why the submission does not import, once), a table of every row, then
one section per row that lost points, most points lost first, with the reason, expected and
received values, the hint and the captured output.

Everything that may come from student code (captured output, received values, exception
messages in reasons) is escaped: inline text gets backslash escapes, blocks go in a backtick
fence longer than any backtick run inside them, so student text cannot end the fence or inject
Markdown / HTML. Rows with visibility ``"hidden"``, ``"after_due_date"`` or ``"after_published"``
show only their name, points and status unless ``reveal_all=True`` (a TA view). The text is a
pure function of the result: no timestamps.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from grading.report.result import (
    SubmissionResult,
    TestResult,
    atomic_write_text,
    clean_text,
    format_points,
    truncate_text,
)

OUTPUT_CAP = 4000
"""Most characters of captured output shown per test."""
VALUE_CAP = 2000
"""Most characters of an expected / received value shown per test."""
INLINE_CAP = 500
"""Most characters of a one-line field (reason, hint, test name)."""

_WITHHELD_NOTE = {
    "hidden": "details are not shown for hidden tests",
    "after_due_date": "details will be shown after the due date",
    "after_published": "details will be shown when grades are published",
}
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#!])")


def escape_inline(text: str, cap: int = INLINE_CAP) -> str:
    """One line of untrusted text made inert in Markdown (and in a table cell)."""
    text = " ".join(clean_text(text).split())
    return _INLINE_SPECIAL.sub(r"\\\1", truncate_text(text, cap).replace("\n", " "))


def code_span(text: str, *, in_table: bool = False) -> str:
    """Untrusted one-line text as an inline code span: the backtick delimiter is longer than
    any backtick run inside; in a table cell, pipes are escaped too (GFM splits cells on them
    even inside code spans)."""
    text = " ".join(truncate_text(clean_text(text), INLINE_CAP).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    tick = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{tick}{text}{tick}" if text else ""


def fenced(text: str, info: str = "text") -> str:
    """``text`` in a fenced code block whose backtick fence is longer than any backtick run in
    ``text``, so nothing inside can close it (CommonMark: the closing fence must be at least as
    long as the opening one)."""
    text = clean_text(text).strip("\n")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _withheld(test: TestResult, reveal_all: bool) -> bool:
    return not reveal_all and test.visibility != "visible"


def _points_cell(test: TestResult) -> str:
    if test.pending:
        return f"– / {format_points(test.max_score)}"
    return f"{format_points(test.score)} / {format_points(test.max_score)}"


def _status_cell(test: TestResult) -> str:
    if test.pending:
        return "pending (graded by hand)"
    if test.status == "passed":
        return "passed"
    if test.score > 0:
        return "partial credit"
    return "failed"


def _header(result: SubmissionResult, reveal_all: bool) -> list[str]:
    lines = [f"# Feedback for {escape_inline(result.lab)}", ""]
    if reveal_all:
        lines += ["> **TA view:** every detail is shown, including hidden tests. "
                  "Do not share this file with students.", ""]
    if result.status == "error":
        lines += ["> **The autograder could not grade your submission:** "
                  f"{escape_inline(result.error or '')}", ""]
    lines.append(f"- **Autograder score:** {format_points(result.score)} / "
                 f"{format_points(result.max_score)}")
    if result.pending_tests:
        lines.append(f"- **Written answers:** {format_points(result.pending_points)} points, "
                     "graded by hand (not included in the score above)")
    lines.append(f"- **Isolation:** {escape_inline(result.isolation)}")
    lines.append(f"- **Grader version:** {escape_inline(result.grader_version)}")
    lines.append(f"- **Submission:** {escape_inline(result.submission_id)}")
    return lines + [""]


def _table(result: SubmissionResult) -> list[str]:
    if not result.tests:
        return ["## Tests", "", "No tests were run.", ""]
    numbered = any(t.number for t in result.tests)
    head = ["#"] if numbered else []
    lines = ["## Tests", "",
             "| " + " | ".join(head + ["Test", "Points", "Status"]) + " |",
             "|" + "|".join(["---"] * (len(head) + 3)) + "|"]
    for test in result.tests:
        cells = [escape_inline(test.number or "")] if numbered else []
        cells += [code_span(test.name, in_table=True), _points_cell(test), _status_cell(test)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _details(test: TestResult) -> list[str]:
    title = code_span(test.name)
    if test.number:
        title = f"{escape_inline(test.number)} {title}"
    lines = [f"### {title} ({_points_cell(test)})", ""]
    if test.reason:
        lines.append(f"- **Why:** {escape_inline(test.reason)}")
    if test.hint:
        lines.append(f"- **Hint:** {escape_inline(test.hint)}")
    if test.reason or test.hint:
        lines.append("")
    for label, value in (("Expected", test.expected), ("Received", test.received)):
        if value is not None and value.strip():
            lines += [f"**{label}:**", "", fenced(truncate_text(value, VALUE_CAP)), ""]
    if test.output.strip():
        lines += ["**Output:**", "", fenced(truncate_text(clean_text(test.output), OUTPUT_CAP)),
                  ""]
    if len(lines) == 2:
        lines += ["No further details were recorded for this test.", ""]
    return lines


def render_feedback(result: SubmissionResult, *, reveal_all: bool = False) -> str:
    """The Markdown feedback for ``result``; ``reveal_all=True`` also explains rows that are
    hidden or not yet released (for TAs)."""
    result.validate()
    lines = _header(result, reveal_all)
    extra = result.output.strip()
    if extra:  # e.g. why the submission does not import: once, before the tests
        lines += ["## Read this first", "", fenced(truncate_text(clean_text(extra), OUTPUT_CAP)),
                  ""]
    lines += _table(result)
    lost = sorted((t for t in result.tests if t.lost_points), key=lambda t: t.score - t.max_score)
    shown = [t for t in lost if not _withheld(t, reveal_all)]
    withheld = [t for t in lost if _withheld(t, reveal_all)]
    if shown:
        lines += ["## What to fix", ""]
        for test in shown:
            lines += _details(test)
    if withheld:
        lines += ["## Tests without details", ""]
        for test in withheld:
            lines.append(f"- {code_span(test.name)} ({_points_cell(test)}): "
                         f"{_WITHHELD_NOTE[test.visibility]}.")
        lines.append("")
    if not lost and result.status == "graded" and result.graded_tests:
        lines += ["All autograded tests passed.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_feedback(result: SubmissionResult, path: str | os.PathLike[str], *,
                   reveal_all: bool = False) -> Path:
    """Atomically write :func:`render_feedback` to ``path`` (UTF-8)."""
    return atomic_write_text(path, render_feedback(result, reveal_all=reveal_all))
