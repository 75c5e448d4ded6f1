"""What a lab's ``grade.py`` shows a student: the public tests, run like the grader runs them.

The public tests (``lab_x/tests``) use the grader's fixtures, so a student sees the same kind of
verdicts and reasons as in their graded feedback; their code runs in the sandbox when
bubblewrap is installed, else in a plain child process.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from pathlib import Path

from grading.grade_one import TestRun, lab_settings, run_hidden_tests
from grading.report.result import TestResult, format_points


def run_public_tests(lab_dir: Path, submission: Path | None = None, isolation: str = "auto"
                     ) -> TestRun:
    """Run ``lab_dir/tests`` on ``submission`` (default: the lab's own submission.py)."""
    lab_dir = Path(lab_dir).resolve()
    settings = lab_settings(lab_dir)
    return run_hidden_tests(
        lab_dir, Path(submission or lab_dir / "submission.py").resolve(), isolation,
        ",".join(settings.get("preload", ["numpy"])), int(settings.get("threads", 1)),
        tests_dir=lab_dir / "tests")


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with aligned columns (for terminals and logs)."""
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def format_test_results(tests: Sequence[TestResult], notes: str = "",
                        width: int | None = None) -> str:
    """The public-test verdicts as a table (test, points, status), then why each check that lost
    points lost them, whole, wrapped to the terminal's ``width``; ``notes`` (a submission that
    does not import) come first, once."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    parts = []
    if notes.strip():
        parts.append(notes.strip())
    rows = [(t.name, f"{format_points(t.score)}/{format_points(t.max_score)}", t.status)
            for t in tests]
    parts.append(format_table(("check", "points", "status"), rows))
    lost = [t for t in tests if t.lost_points and t.reason]
    if lost:
        lines = ["why:"]
        for test in lost:
            lines += textwrap.wrap(f"{test.name}: {test.reason}", width=max(width, 40),
                                   initial_indent="- ", subsequent_indent="  ",
                                   break_long_words=False, break_on_hyphens=False)
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
