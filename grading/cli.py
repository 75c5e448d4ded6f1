"""Command line of the autograder: ``python -m grading {demo,...} --help``."""

from __future__ import annotations

import argparse
import logging
import resource
import sys
from pathlib import Path

from common.threads import available_cores
from grading import GRADER_VERSION, labs
from grading.labs import find_labs


def cmd_demo(args: argparse.Namespace) -> int:
    """Grade the example submissions of every lab and print the gradebook."""
    from grading.demo import run_demo

    print(f"course labs, grader {GRADER_VERSION}")
    for lab in find_labs():
        state = "graded" if lab.has_grader else "not graded yet"
        print(f"  {lab.name:<20} [{state}]")
    return run_demo(Path(args.out) if args.out else None, args.workers, args.isolation)


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade a folder of submissions; write per-student results and the gradebook."""
    import time

    from grading.batch import BatchGrader, discover
    from grading.grade_one import check_hidden_tests
    from grading.gradebook import write_gradebook
    from grading.sandbox.launcher import SandboxRefused

    lab_dir = resolve_lab_dir(args.lab)
    problem = check_hidden_tests(lab_dir)
    if problem:  # before any submission: one message for the instructor, not 300 failed rows
        raise SystemExit(f"error: {problem}")
    try:
        submissions, skipped = discover(Path(args.submissions))
        grader = BatchGrader(lab_dir, Path(args.out), args.workers, args.isolation,
                             args.timeout)
    except (ValueError, SandboxRefused) as exc:
        raise SystemExit(f"error: {exc}") from None
    for entry in skipped:  # before grading: the TA can stop, rename and start again
        print(f"skipped {entry.entry}: {entry.reason}", flush=True)
    start = time.monotonic()
    outcomes = grader.run(submissions, show_progress=not args.no_progress)
    results = {sid: o.result for sid, o in outcomes.items()}
    write_gradebook(grader.out, lab_dir.name, results,
                    {sid: o.seconds for sid, o in outcomes.items()}, skipped)
    errors = sum(r.status == "error" for r in results.values())
    cached = sum(o.from_cache for o in outcomes.values())
    print(f"graded {len(results)} submissions of {lab_dir.name} ({errors} errors, {cached} from "
          f"cache, {len(skipped)} entries skipped{' (see skipped.csv)' if skipped else ''}) in "
          f"{time.monotonic() - start:.1f} s with "
          f"{args.workers} worker(s), isolation {grader.isolation}; gradebook: "
          f"{grader.out / 'grades.csv'}")
    return 0 if len(results) == len(submissions) else 1


def resolve_lab_dir(lab: str) -> Path:
    """:func:`grading.labs.resolve_lab_dir`, or exit with its message."""
    try:
        return labs.resolve_lab_dir(lab)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


GRADER_DATA_BYTES = 6 << 30


def limit_grader_memory(data_bytes: int = GRADER_DATA_BYTES) -> None:
    """Bound this grading process's heap (RLIMIT_DATA: what numpy and torch allocate), so a
    value from the sandbox that slipped past a test's checks costs a MemoryError in that test,
    not the machine. Libraries' reserved address space (PROT_NONE) does not count."""
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard == resource.RLIM_INFINITY or hard > data_bytes:
        resource.setrlimit(resource.RLIMIT_DATA, (data_bytes, hard))


def cmd_grade_one(args: argparse.Namespace) -> int:
    """Grade one submission; print its score; write results.json, feedback.md, result.json."""
    from grading.grade_one import grade_submission

    lab_dir = resolve_lab_dir(args.lab)
    limit_grader_memory()
    result = grade_submission(lab_dir, Path(args.submission), Path(args.out),
                              submission_id=args.submission_id, isolation=args.isolation,
                              preload=args.preload, threads=args.threads)
    status = "" if result.status == "graded" else f"  [{result.status}: {result.error}]"
    print(f"{result.submission_id}: {result.score:g} / {result.max_score:g}"
          f"{f' (+{result.pending_points:g} graded by hand)' if result.pending_points else ''}"
          f"  isolation={result.isolation}{status}")
    print(f"wrote {Path(args.out) / 'results.json'} and feedback.md")
    return 0


DEMO_MAX_WORKERS = 4  # each worker holds a grader and a sandboxed python with torch loaded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="grade the bundled example submissions of every lab")
    demo.add_argument("--out", default=None, help="keep the gradebooks here (default: temporary)")
    demo.add_argument("--workers", type=int, default=min(DEMO_MAX_WORKERS, available_cores()),
                      help="submissions graded in parallel (default: one per core, at most "
                           f"{DEMO_MAX_WORKERS}; each gets cores // workers threads)")
    demo.add_argument("--isolation", default="auto", choices=["auto", "bwrap", "process"],
                      help="sandbox level (default: the strongest this machine offers)")
    demo.set_defaults(func=cmd_demo)
    grade = sub.add_parser("grade", help="grade a folder of submissions (one per student)")
    grade.add_argument("--lab", required=True, help="lab name (lab_gmm) or path of a lab folder")
    grade.add_argument("--submissions", required=True,
                       help="folder with one sub-folder, .py or .zip per student (named by id)")
    grade.add_argument("--out", required=True,
                       help="output folder: submissions/<id>/results.json (a slug~hash of the id "
                            "where it is not a plain name), grades.csv, "
                            "skipped.csv, summary/")
    grade.add_argument("--workers", type=int, default=1,
                       help="submissions graded in parallel (each gets cores // workers threads)")
    grade.add_argument("--isolation", default="auto", choices=["auto", "bwrap", "process"],
                       help="sandbox level (default: the strongest this machine offers)")
    grade.add_argument("--timeout", type=float, default=1800,
                       help="seconds after which one submission's grading is stopped")
    grade.add_argument("--no_progress", action="store_true", help="no progress bar")
    grade.set_defaults(func=cmd_grade)
    from grading import autograder, release

    release.add_parser(sub)
    autograder.add_parser(sub)
    one = sub.add_parser("grade-one", help="grade one submission against a lab's hidden tests")
    one.add_argument("--lab", required=True, help="lab name (lab_gmm) or path of a lab folder")
    one.add_argument("--submission", required=True,
                     help="a folder holding submission.py (and files the lab asks for), or a .py")
    one.add_argument("--out", required=True, help="folder for results.json and feedback.md")
    one.add_argument("--submission_id", default=None,
                     help="id written into the results (default: the submission's name)")
    one.add_argument("--isolation", default="auto", choices=["auto", "bwrap", "process"],
                     help="sandbox level (default: the strongest this machine offers)")
    one.add_argument("--preload", default=None,
                     help="comma-separated modules each worker imports before the student's "
                          "code (default: the lab's instructor/grader.json, else numpy)")
    one.add_argument("--threads", type=int, default=None,
                     help="CPU threads per sandboxed worker (default: grader.json, else 1)")
    one.set_defaults(func=cmd_grade_one)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return args.func(args)
