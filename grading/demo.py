"""``python -m grading demo``: grade every lab's example submissions and print the gradebook.

The examples are the reference solution, the blank stub and the known-wrong patches of
``examples/<lab>/``; each has a pinned expected score, so the demo doubles as an end-to-end
check (exit status 1 when an example does not score what it should).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grading.batch import BatchGrader, Submission
from grading.examples import FULL, Example, lab_examples, write_submission
from grading.gradebook import write_gradebook
from grading.labs import REPO_ROOT, find_labs
from grading.public import format_table
from grading.report.result import SubmissionResult, format_points

FIXTURE_LAB = REPO_ROOT / "tests" / "grading" / "fixture_lab"


def demo_labs() -> list[Path]:
    """The labs with hidden tests; the grader's fixture lab when no real lab has any yet."""
    labs = [lab.path for lab in find_labs() if lab.has_grader]
    return labs or ([FIXTURE_LAB] if FIXTURE_LAB.is_dir() else [])


@dataclass(frozen=True)
class GradedExample:
    """One example graded in a batch: what it is, its result, and its output folder
    (``results.json``, ``feedback.md``)."""

    example: Example
    result: SubmissionResult
    folder: Path

    @property
    def feedback(self) -> str:
        return (self.folder / "feedback.md").read_text()

    @property
    def expected_score(self) -> float | None:
        """The pinned score in points (None: not pinned)."""
        if self.example.score is None:
            return None
        return self.result.max_score if self.example.score == FULL else float(self.example.score)

    def verdict(self) -> str:
        """"ok", "EXPECTED <points>", "REASON MISSING from feedback", or "" when not pinned."""
        expected = self.expected_score
        if expected is None:
            return ""
        if abs(self.result.score - expected) > 1e-6:
            return f"EXPECTED {format_points(expected)}"
        if self.example.reason and not re.search(self.example.reason, self.feedback):
            return "REASON MISSING from feedback"
        return "ok"

    def problem(self) -> str | None:
        """What is wrong with this example's grade, with its feedback; None when it scored as
        pinned (and its feedback gives the pinned reason), or when it is not pinned."""
        verdict = self.verdict()
        if verdict in ("", "ok"):
            return None
        return (f"{self.example.name}: scored {format_points(self.result.score)}, "
                f"{verdict} ({self.example.why}; reason {self.example.reason!r})\n{self.feedback}")


def grade_examples(lab_dir: Path, root: Path, workers: int = 1, isolation: str = "auto",
                   names: list[str] | None = None, show_progress: bool = True
                   ) -> tuple[BatchGrader, dict[str, GradedExample]]:
    """Grade the examples of ``lab_dir`` (those in ``names``; default all) in one batch, as a
    TA grades a class: submissions under ``root/submissions``, results under ``root/out``."""
    examples = {e.name: e for e in lab_examples(lab_dir) if names is None or e.name in names}
    subs = [Submission(name, write_submission(e.source, root / "submissions" / name, e.files))
            for name, e in examples.items()]
    grader = BatchGrader(lab_dir, root / "out", workers, isolation)
    outcomes = grader.run(sorted(subs, key=lambda s: s.student_id), show_progress)
    write_gradebook(grader.out, lab_dir.name, {sid: o.result for sid, o in outcomes.items()},
                    {sid: o.seconds for sid, o in outcomes.items()}, [])
    return grader, {name: GradedExample(example, outcomes[name].result,
                                        grader.out / "submissions" / name)
                    for name, example in examples.items()}


def run_demo(out: Path | None = None, workers: int = 1, isolation: str = "auto") -> int:
    """Grade the examples of every lab into ``out`` (a temp folder by default); print tables."""
    labs = demo_labs()
    if not labs:
        print("no lab has hidden tests yet: nothing to grade.")
        return 0
    mismatches = 0
    with tempfile.TemporaryDirectory(prefix="grading-demo-") as tmp:
        root = Path(out) if out else Path(tmp)
        for lab_dir in labs:
            grader, graded = grade_examples(lab_dir, root / lab_dir.name, workers, isolation)
            rows = []
            for name, g in graded.items():
                verdict = g.verdict()
                mismatches += verdict not in ("", "ok")
                rows.append((name, f"{format_points(g.result.score)}/"
                             f"{format_points(g.result.max_score)}", g.result.status, verdict,
                             g.example.why[:60]))
            print(f"\n{lab_dir.name}  (isolation: {grader.isolation}; gradebook: "
                  f"{grader.out / 'grades.csv' if out else 'temporary'})")
            print(format_table(("submission", "score", "status", "check", "what it is"), rows))
    print("\nall examples scored as expected" if not mismatches else
          f"\n{mismatches} example(s) scored differently than expected")
    return 1 if mismatches else 0
