"""The class gradebook: ``grades.csv``, ``timings.csv`` and a summary (Markdown + histogram).

``grades.csv`` holds only what grading decided (scores, statuses, isolation, pending manual
points), in student-id order, so an interrupted batch that was resumed writes it byte for byte
like an uninterrupted one. Wall-clock durations, which differ from run to run, go to
``timings.csv`` and the summary. ``skipped.csv`` lists the entries of the submissions folder
that were not graded, with why (see ``grading.batch``).

Every CSV cell is escaped against formula injection as OWASP advises: a text cell that begins
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or with ``'``, so that the escape
can be undone) gets a leading ``'``, which spreadsheets show as text; a student id ``-x`` is
written ``'-x``. To get the original text back, drop one leading ``'``. Plain decimal numbers
(scores such as ``-1.5``) are left as they are: a number is never a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grading.report.result import SubmissionResult, atomic_write_text, format_points

if TYPE_CHECKING:
    from grading.batch import Skipped

FIXED_COLUMNS = ("student_id", "score", "max_score", "status", "isolation", "manual_pending",
                 "n_failed", "error")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")  # "'": the escape itself, kept reversible
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: object) -> str:
    """``value`` as a CSV cell a spreadsheet will not run: text that begins like a formula gets
    a leading ``'`` (OWASP); a plain decimal number (``-1.5``, ``+2e3``) is kept as it is."""
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """``rows`` as CSV text (``\\n`` line ends), every cell through ``csv_cell``. A row with a
    carriage return in a cell is written fully quoted: ``csv`` would leave that cell unquoted,
    and a reader would end the row there."""
    buffer = io.StringIO()
    plain = csv.writer(buffer, lineterminator="\n")
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        cells = [csv_cell(cell) for cell in row]
        (quoted if any("\r" in cell for cell in cells) else plain).writerow(cells)
    return buffer.getvalue()


def test_columns(results: Mapping[str, SubmissionResult]) -> list[str]:
    """Graded test names in the order the lab runs them (first seen), pending items excluded."""
    names: dict[str, None] = {}
    for sid in sorted(results):
        for test in results[sid].graded_tests:
            names.setdefault(test.name, None)
    return list(names)


def grades_csv(results: Mapping[str, SubmissionResult]) -> str:
    """One row per submission: totals, status, isolation, pending manual points, per-test scores."""
    columns = test_columns(results)
    rows: list[list[object]] = [[*FIXED_COLUMNS, *columns]]
    for sid in sorted(results):
        r = results[sid]
        scores = {t.name: format_points(t.score) for t in r.graded_tests}
        error = (r.error or "").splitlines()[0][:200] if r.error else ""
        rows.append([sid, format_points(r.score), format_points(r.max_score), r.status,
                     r.isolation, format_points(r.pending_points), r.n_failed, error,
                     *(scores.get(name, "") for name in columns)])
    return csv_text(rows)


def timings_csv(results: Mapping[str, SubmissionResult], seconds: Mapping[str, float]) -> str:
    """Per submission: grading time measured by the grader, and wall time in this batch."""
    rows: list[list[object]] = [
        ["student_id", "grading_s", "batch_wall_s", "slowest_test", "slowest_test_s"]]
    for sid in sorted(results):
        r = results[sid]
        slow = max(r.tests, key=lambda t: t.duration_s, default=None)
        rows.append([sid, f"{r.execution_time:.2f}", f"{seconds.get(sid, 0.0):.2f}",
                     slow.name if slow else "", f"{slow.duration_s:.2f}" if slow else ""])
    return csv_text(rows)


def skipped_csv(skipped: Sequence[Skipped]) -> str:
    """The entries of the submissions folder that were not graded: ``entry``, ``reason``."""
    return csv_text([("entry", "reason"), *((s.entry, s.reason) for s in skipped)])


def histogram_png(results: Mapping[str, SubmissionResult], path: Path) -> Path:
    """A histogram of the scores (fractions of the maximum)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.plots import save_figure

    scores = [r.score for r in results.values()]
    top = max((r.max_score for r in results.values()), default=0.0) or 1.0
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=20, range=(0, top), color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"score (out of {format_points(top)})")
    ax.set_ylabel("submissions")
    ax.set_title(f"{len(scores)} submissions")
    return save_figure(fig, path)


def summary_markdown(lab: str, results: Mapping[str, SubmissionResult],
                     seconds: Mapping[str, float], skipped: Sequence[Skipped],
                     slowest: int = 5) -> str:
    """What a TA reads first: counts, failures per test, errors, the slowest tests."""
    n = len(results)
    errors = sorted(sid for sid, r in results.items() if r.status == "error")
    full = sum(1 for r in results.values() if r.max_score and r.score == r.max_score)
    lines = [f"# Grading summary: {lab}", "",
             f"- submissions: {n} ({n - len(errors)} graded, {len(errors)} errors)",
             f"- full marks: {full}",
             f"- isolation: {', '.join(sorted({r.isolation for r in results.values()})) or '-'}",
             "", "![score histogram](histogram.png)", "", "## Failures per test", "",
             "| test | failed | of |", "|---|---|---|"]
    for name in test_columns(results):
        rows = [t for r in results.values() for t in r.graded_tests if t.name == name]
        lines.append(f"| {name} | {sum(t.status != 'passed' for t in rows)} | {len(rows)} |")
    tests = sorted(((t.duration_s, sid, t.name) for sid, r in results.items()
                    for t in r.graded_tests), reverse=True)[:slowest]
    lines += ["", "## Slowest tests", "", "| seconds | submission | test |", "|---|---|---|"]
    lines += [f"| {d:.2f} | {sid} | {name} |" for d, sid, name in tests]
    if errors:
        lines += ["", "## Submissions that could not be graded", ""]
        lines += [f"- {sid}: {(results[sid].error or '').splitlines()[0][:200]}" for sid in errors]
    if skipped:
        lines += ["", "## Skipped entries of the submissions folder", ""]
        lines += [f"- {s.entry}: {s.reason}" for s in skipped]
    total = sum(seconds.values())
    lines += ["", f"Grading time, summed over submissions: {total:.1f} s."]
    return "\n".join(lines) + "\n"


def write_gradebook(out: Path, lab: str, results: Mapping[str, SubmissionResult],
                    seconds: Mapping[str, float], skipped: Sequence[Skipped]) -> None:
    """``grades.csv``, ``timings.csv``, ``skipped.csv`` (a header alone when nothing was
    skipped), ``summary/summary.md`` and ``summary/histogram.png``."""
    atomic_write_text(out / "grades.csv", grades_csv(results))
    atomic_write_text(out / "timings.csv", timings_csv(results, seconds))
    atomic_write_text(out / "skipped.csv", skipped_csv(skipped))
    (out / "summary").mkdir(parents=True, exist_ok=True)
    histogram_png(results, out / "summary" / "histogram.png")
    atomic_write_text(out / "summary" / "summary.md",
                      summary_markdown(lab, results, seconds, skipped))
