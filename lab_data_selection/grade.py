"""Check your submission before you hand it in: the public tests, then the graded MNIST run.

    python grade.py                        # public tests + the graded run (about a minute)
    python grade.py --skip_performance     # public tests only
    python grade.py --seed 3               # the graded run with another seed

The public tests run your code the way the grader does (in a sandbox when bubblewrap is
installed). The performance run is the grader's reduced problem: 100 pool images per digit,
targets 6 and 7, 10 epochs, learned weights with your functions against uniform weights, scored
on the 200 held-out test 6s and 7s. It prints the two graded numbers next to the values that
earn full credit. The graded tests are stricter than the public ones (see README.md).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common.cli import dataclass_parser
from common.threads import set_thread_budget
from grading.public import format_table, format_test_results, run_public_tests

LAB_DIR = Path(__file__).resolve().parent
FULL_CREDIT = {"test_loss_ratio": 0.9, "top100_enrichment": 3.0}
NO_CREDIT = {"test_loss_ratio": 1.0, "top100_enrichment": 1.5}


@dataclass
class GradeArgs:
    """Settings of one ``grade.py`` run (every field is a command-line flag)."""

    submission: str = "submission.py"
    seed: int = 0
    skip_performance: bool = False


HELP = {
    "submission": "the file to check",
    "seed": "seed of the performance run (the grader uses 0)",
    "skip_performance": "run the public tests only",
}


def parse_args(argv: list[str] | None = None) -> GradeArgs:
    parser = dataclass_parser(GradeArgs, HELP, __doc__.split("\n\n")[0])
    args = GradeArgs(**vars(parser.parse_args(argv)))
    if not Path(args.submission).is_file():
        parser.error(f"no file {args.submission}; pass --submission path/to/submission.py.")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0; received {args.seed}.")
    return args


def load_submission(path: Path):
    """Import ``path`` as the module ``submission`` (the fixed modules import it by name)."""
    spec = importlib.util.spec_from_file_location("submission", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
    return module


def performance(args: GradeArgs) -> str:
    """The graded run with the submission; a table of the two graded numbers."""
    import numpy as np

    set_thread_budget(1)
    started = time.perf_counter()
    try:
        load_submission(Path(args.submission).resolve())
        from data import normalise, selection_data
        from mnist_data_selection import DEFAULTS, MNISTDataSelector
        from network import network_logits
        from train import GRADED_RUN, graded_run, top_digits_summary

        d = selection_data((6, 7)).subset(GRADED_RUN["per_digit"])
        out = graded_run(d.train_images, d.train_labels, d.val_images, d.val_labels,
                         [6, 7], GRADED_RUN["epochs"], args.seed)
        test_logits = network_logits(DEFAULTS["network"], out["network"],
                                     normalise(d.test_images))
        uniform = MNISTDataSelector((6, 7), data=d, learn_weights=False, seed=args.seed,
                                    verbose=False)
        uniform.train(GRADED_RUN["epochs"])
    except Exception as exc:  # noqa: BLE001 - report any failure of the student's code
        return f"performance run failed: {type(exc).__name__}: {exc}"
    logits = test_logits - test_logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    learned = float(-log_p[np.arange(len(d.test_labels)), d.test_labels].mean())
    ratio = learned / uniform.evaluate()["test_loss"]
    top = top_digits_summary(out["weights"], d.train_labels, (6, 7))
    rows = [("held-out loss ratio, learned / uniform", f"{ratio:.3f}",
             f"<= {FULL_CREDIT['test_loss_ratio']} (none at {NO_CREDIT['test_loss_ratio']})"),
            ("top-100 enrichment of 6s and 7s", f"{top['enrichment']:.2f}",
             f">= {FULL_CREDIT['top100_enrichment']} (none at "
             f"{NO_CREDIT['top100_enrichment']})")]
    title = (f"performance: {GRADED_RUN['per_digit']} pool images per digit, "
             f"{GRADED_RUN['epochs']} epochs, seed {args.seed}, "
             f"{time.perf_counter() - started:.0f} s; top-100 digits {top['digits']}; "
             f"{out['divergences']} Neumann divergence(s)")
    return title + "\n" + format_table(("metric", "yours", "full credit"), rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = run_public_tests(LAB_DIR, Path(args.submission).resolve())
    tests, isolation = run.tests, run.isolation
    print(format_test_results(tests, run.notes))
    passed = sum(t.status == "passed" for t in tests)
    print(f"\n{passed} of {len(tests)} public checks passed (isolation: {isolation})\n")
    if not args.skip_performance:
        print(performance(args))
    return 0 if passed == len(tests) else 1


if __name__ == "__main__":
    sys.exit(main())
