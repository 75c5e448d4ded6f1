"""Check your submission before you hand it in: the public tests, then a performance run.

    python grade.py                        # public tests + Adam/He/BatchNorm for 100 epochs
    python grade.py --epochs 20            # a faster performance run
    python grade.py --skip_performance     # public tests only

The public tests run your code the way the grader does (in a sandbox when bubblewrap is
installed). The performance run trains the graded configuration with your ``train_config``
and prints the validation and test accuracy next to the accuracy that earns full credit.
The graded tests are stricter than the public ones (see README.md).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common.cli import dataclass_parser
from common.data import load_digits_split
from common.threads import set_thread_budget
from grading.public import format_table, format_test_results, run_public_tests

LAB_DIR = Path(__file__).resolve().parent
GRADED_CONFIG = {"optimizer": "adam", "lr": 1e-3, "init": "he", "batch_norm": True}
FULL_CREDIT_ACCURACY = 0.965  # test accuracy after 100 epochs that earns full credit


@dataclass
class GradeArgs:
    """Settings of one ``grade.py`` run (every field is a command-line flag)."""

    submission: str = "submission.py"
    epochs: int = 100
    seed: int = 0
    skip_performance: bool = False


HELP = {
    "submission": "the file to check",
    "epochs": "epochs of the performance run (the grader uses 100)",
    "seed": "seed of the performance run (the grader uses 0)",
    "skip_performance": "run the public tests only",
}


def parse_args(argv: list[str] | None = None) -> GradeArgs:
    parser = dataclass_parser(GradeArgs, HELP, __doc__.split("\n\n")[0])
    args = GradeArgs(**vars(parser.parse_args(argv)))
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1; received {args.epochs}.")
    if not Path(args.submission).is_file():
        parser.error(f"no file {args.submission}; pass --submission path/to/submission.py.")
    return args


def load_submission(path: Path):
    """Import ``path`` as the module ``submission``."""
    spec = importlib.util.spec_from_file_location("submission", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
    return module


def performance(args: GradeArgs) -> str:
    """Train GRADED_CONFIG with the submission; a table of validation and test accuracy."""
    set_thread_budget(1)
    try:
        module = load_submission(Path(args.submission).resolve())
        split = load_digits_split()
        started = time.perf_counter()
        model, history = module.train_config(GRADED_CONFIG, split, args.epochs, args.seed)
        pred = module.predict_proba(model, split.X_test).argmax(axis=1)
    except Exception as exc:  # noqa: BLE001 - report any failure of the student's code
        return f"performance run failed: {type(exc).__name__}: {exc}"
    test_acc = float((pred == split.y_test).mean())
    rows = [("validation accuracy", f"{history['val_acc'][-1]:.4f}", ""),
            ("test accuracy", f"{test_acc:.4f}",
             f">= {FULL_CREDIT_ACCURACY} for full credit after 100 epochs")]
    title = (f"performance: {GRADED_CONFIG}, {args.epochs} epochs, seed {args.seed}, "
             f"{time.perf_counter() - started:.0f} s")
    return title + "\n" + format_table(("metric", "value", "graded"), rows)


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
