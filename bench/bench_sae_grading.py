"""lab_sae: wall time of grading the reference solution with ``python -m grading grade-one``,
this tree against a baseline tree (another commit checked out as a git worktree), interleaved
(baseline, this tree, baseline, ...) so that a change of machine load hits both alike.

Each tree grades its own reference (``instructor/solution.py`` with the solution markers
resolved), written to a temporary folder; the score must be full in both. Figures: the median
of each side and the ratio of the medians (goal of the lab_sae grading issue: this tree within
1.10x of the commit before the graded run moved to the grader).

    git worktree add /tmp/sae_base 0c6cd4b
    python -m bench.bench_sae_grading --baseline /tmp/sae_base --repeats 3
    git worktree remove --force /tmp/sae_base

(``python -m bench sae_grading`` reads the baseline folder from ``SAE_BASELINE_TREE``.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
THREADS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def write_reference(tree: Path, folder: Path) -> Path:
    """``tree``'s lab_sae reference submission, as ``folder/submission.py``."""
    code = ("import sys; sys.path.insert(0, '.'); from pathlib import Path; "
            "from grading.examples import reference_submission; "
            "sys.stdout.write(reference_submission(Path('lab_sae')))")
    source = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True,
                            text=True, check=True).stdout
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "submission.py").write_text(source)
    return folder


def grade_once(tree: Path, submission: Path, out: Path) -> float:
    """Seconds of one ``grade-one`` of ``submission`` with ``tree``'s grader (full score
    checked)."""
    env = {**os.environ, **THREADS}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "grading", "grade-one", "--lab", "lab_sae",
                    "--submission", str(submission), "--out", str(out)], cwd=tree, env=env,
                   check=True, capture_output=True)
    seconds = time.perf_counter() - start
    results = json.loads((out / "results.json").read_text())
    top = sum(test["max_score"] for test in results["tests"])
    if results["score"] < top or top == 0:
        raise SystemExit(f"{tree}: the reference scored {results['score']} / {top}; expected "
                         f"full points (see {out / 'feedback.md'})")
    return seconds


def compare(baseline: Path, repeats: int) -> None:
    """Interleaved grade-one runs of both trees; prints every time, the medians and ratio."""
    times: dict[str, list[float]] = {"baseline": [], "this tree": []}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        trees = {"baseline": baseline.resolve(), "this tree": HERE}
        refs = {name: write_reference(tree, scratch / name.replace(" ", "_") / "submission")
                for name, tree in trees.items()}
        for round_ in range(repeats):
            for name, tree in trees.items():
                out = scratch / name.replace(" ", "_") / f"out{round_}"
                times[name].append(grade_once(tree, refs[name], out))
                print(f"round {round_ + 1}: {name} {times[name][-1]:.1f} s", flush=True)
    base, ours = (statistics.median(times[name]) for name in ("baseline", "this tree"))
    print(f"grade-one of the lab_sae reference, median of {repeats}: baseline {base:.1f} s, "
          f"this tree {ours:.1f} s, ratio {ours / base:.2f}x (goal <= 1.10x)")


def run(quick: bool = False) -> None:
    """``python -m bench sae_grading``: the baseline tree from ``SAE_BASELINE_TREE``."""
    baseline = os.environ.get("SAE_BASELINE_TREE")
    if not baseline:
        print("skipped: set SAE_BASELINE_TREE to a worktree of the baseline commit "
              "(git worktree add <folder> 0c6cd4b)")
        return
    compare(Path(baseline), 1 if quick else 3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True,
                        help="a checkout of the baseline commit (a git worktree)")
    parser.add_argument("--repeats", type=int, default=3, help="grade-one runs per tree")
    args = parser.parse_args(argv)
    compare(args.baseline, args.repeats)


if __name__ == "__main__":
    main()
