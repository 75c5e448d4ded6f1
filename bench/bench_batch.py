"""Batch throughput: 50 submissions at --workers 1 and 2, with and without the thread budget.

* trivial: the fixture lab's reference (tiny numpy work): what the batch machinery costs;
* BLAS-bound: ``bench/blas_lab`` (eigh of 300x300 Gram matrices): what oversubscribed BLAS
  threads cost when each of 2 parallel workers also runs a BLAS pool as wide as the machine.

Goal (batch issue): >= 1.7x from 1 to 2 workers on 2 cores.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from grading.batch import BatchGrader, discover
from grading.examples import reference_submission, write_submission
from grading.labs import REPO_ROOT

LABS = {"trivial": REPO_ROOT / "tests" / "grading" / "fixture_lab",
        "BLAS-bound": REPO_ROOT / "bench" / "blas_lab"}


def batch_seconds(lab_dir: Path, n: int, workers: int, thread_budget: bool) -> float:
    """Wall seconds to grade ``n`` distinct copies of the lab's reference from scratch."""
    reference = reference_submission(lab_dir)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            write_submission(reference + f"# copy {i}\n", Path(tmp) / "in" / f"s{i:03d}")
        subs, _ = discover(Path(tmp) / "in")
        grader = BatchGrader(lab_dir, Path(tmp) / "out", workers, thread_budget=thread_budget)
        start = time.perf_counter()
        outcomes = grader.run(subs, show_progress=False)
        seconds = time.perf_counter() - start
    if any(o.result.score != o.result.max_score for o in outcomes.values()):
        raise RuntimeError(f"the reference of {lab_dir.name} lost points in the bench")
    return seconds


def run(quick: bool = False) -> None:
    sizes = {"trivial": 10 if quick else 50, "BLAS-bound": 4 if quick else 10}
    print("seconds (submissions per second)")
    print(f"{'lab':<11} {'n':>3} {'threads':<8} {'1 worker':>16} {'2 workers':>16} "
          f"{'speed-up':>9}")
    for name, lab in LABS.items():
        n = sizes[name]
        for budget in (True, False):
            one = batch_seconds(lab, n, 1, budget)
            two = batch_seconds(lab, n, 2, budget)
            label = "budget" if budget else "unset"
            print(f"{name:<11} {n:>3} {label:<8} {one:8.1f} ({n / one:4.2f}/s) {two:8.1f} "
                  f"({n / two:4.2f}/s) {one / two:8.2f}x")
