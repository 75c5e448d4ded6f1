"""What a lab's ``grade.py`` shows a student: the public tests, run like the grader runs them.

The public tests (``lab_x/tests``) use the grader's fixtures, so a student sees the same kind of
verdicts and reasons as in their graded feedback; their code runs in the sandbox when
bubblewrap is installed, else in a plain child process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grading.grade_one import lab_settings, run_hidden_tests
from grading.report.result import TestResult, format_points


def run_public_tests(lab_dir: Path, submission: Path | None = None, isolation: str = "auto"
                     ) -> tuple[list[TestResult], str]:
    """Run ``lab_dir/tests`` on ``submission`` (default: the lab's own submission.py).

    Returns the per-test results and the isolation level used.
    """
    lab_dir = Path(lab_dir).resolve()
    settings = lab_settings(lab_dir)
    tests, level, _ = run_hidden_tests(
        lab_dir, Path(submission or lab_dir / "submission.py").resolve(), isolation,
        ",".join(settings.get("preload", ["numpy"])), int(settings.get("threads", 1)),
        tests_dir=lab_dir / "tests")
    return tests, level


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with aligned columns (for terminals and logs)."""
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def format_test_results(tests: Sequence[TestResult]) -> str:
    """The public-test verdicts as a table: test, points, status, reason."""
    rows = [(t.name, f"{format_points(t.score)}/{format_points(t.max_score)}", t.status,
             (t.reason or "")[:70]) for t in tests]
    return format_table(("check", "points", "status", "reason"), rows)
