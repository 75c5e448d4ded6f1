"""``python -m grading demo``: grade every lab's example submissions and print the gradebook.

The examples are the reference solution, the blank stub and the known-wrong patches of
``examples/<lab>/``; each has a pinned expected score, so the demo doubles as an end-to-end
check (exit status 1 when an example does not score what it should).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from grading.batch import BatchGrader, Submission
from grading.examples import FULL, Example, lab_examples, write_submission
from grading.gradebook import write_gradebook
from grading.labs import REPO_ROOT, find_labs
from grading.public import format_table
from grading.report.result import format_points

FIXTURE_LAB = REPO_ROOT / "tests" / "grading" / "fixture_lab"


def demo_labs() -> list[Path]:
    """The labs with hidden tests; the grader's fixture lab when no real lab has any yet."""
    labs = [lab.path for lab in find_labs() if lab.has_grader]
    return labs or ([FIXTURE_LAB] if FIXTURE_LAB.is_dir() else [])


def _verdict(example: Example, score: float, max_score: float) -> str:
    if example.score is None:
        return ""
    expected = max_score if example.score == FULL else float(example.score)
    return "ok" if abs(score - expected) < 1e-6 else f"EXPECTED {format_points(expected)}"


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
            examples = {e.name: e for e in lab_examples(lab_dir)}
            submissions_dir = root / lab_dir.name / "submissions"
            subs = [Submission(name, write_submission(e.source, submissions_dir / name, e.files))
                    for name, e in examples.items()]
            grader = BatchGrader(lab_dir, root / lab_dir.name / "out", workers, isolation)
            outcomes = grader.run(sorted(subs, key=lambda s: s.student_id))
            results = {sid: o.result for sid, o in outcomes.items()}
            write_gradebook(grader.out, lab_dir.name, results,
                            {sid: o.seconds for sid, o in outcomes.items()}, [])
            rows = []
            for sub in subs:
                r, e = results[sub.student_id], examples[sub.student_id]
                verdict = _verdict(e, r.score, r.max_score)
                mismatches += verdict.startswith("EXPECTED")
                rows.append((sub.student_id, f"{format_points(r.score)}/"
                             f"{format_points(r.max_score)}", r.status, verdict, e.why[:60]))
            print(f"\n{lab_dir.name}  (isolation: {grader.isolation}; gradebook: "
                  f"{grader.out / 'grades.csv' if out else 'temporary'})")
            print(format_table(("submission", "score", "status", "check", "what it is"), rows))
    print("\nall examples scored as expected" if not mismatches else
          f"\n{mismatches} example(s) scored differently than expected")
    return 1 if mismatches else 0
