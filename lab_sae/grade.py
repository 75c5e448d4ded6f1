"""Your checks and your performance score, as the grader computes them.

    python grade.py                                  # public tests + the graded training run
    python grade.py --results_path results/<run>     # also the held-out scores of one of your runs
    python grade.py --skip_tests --skip_graded_run --results_path results/<run>

The graded run trains ``trainer.GRADED_RUN`` (one SAE, 256 latents, k = 50, 15 epochs) with your
code on the 4,000 training digits and scores the Pearson correlation between the 1,000 held-out
digits and their reconstructions (the grader reconstructs them itself from your trained weights;
here your own ``forward`` and ``pearson_correlation`` do it). It takes about a minute on a CPU.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from metrics import pca_reconstruction
from submission import pearson_correlation
from train import read_config
from trainer import GRADED_RUN, Trainer, as_images, load_model

from common.data import load_mnist
from common.progress import progress
from common.seeding import seed_everything
from common.threads import set_thread_budget
from grading.scoring import Threshold

LAB_DIR = Path(__file__).resolve().parent
GRADED_SEED = 0
# The grader's rule for the graded run (its rubric; a test keeps the two the same): no credit
# at or below floor, full credit from target, linear in between.
PERFORMANCE = Threshold("heldout_pearson", floor=0.90, target=0.935, points=20)


@dataclass
class GradeConfig:
    """Settings of grade.py."""

    results_path: str | None = None
    skip_tests: bool = False
    skip_graded_run: bool = False


def scores(model, X_test: torch.Tensor) -> dict[str, float]:
    """Held-out Pearson and MSE (means over the SAEs) and the dead fraction of ``model``."""
    with torch.no_grad():
        _, latents, recons = model(X_test)
    pearson = pearson_correlation(X_test.expand_as(recons), recons)
    return {"pearson": float(pearson.mean()),
            "mse": float((recons - X_test).square().mean()),
            "dead": float((latents == 0).all(dim=1).double().mean())}


def baselines(X_train: np.ndarray, X_test: torch.Tensor) -> dict[str, dict[str, float]]:
    """PCA-50 and mean-image reconstructions of the held-out digits, scored alike."""
    x = X_test.numpy().astype(np.float64)
    pca = torch.from_numpy(pca_reconstruction(X_train, x, 50))
    mean = torch.from_numpy(np.tile(X_train.mean(axis=0), (len(x), 1)))
    out = {}
    for name, recons in (("PCA-50", pca), ("mean image", mean)):
        r = pearson_correlation(X_test.double(), recons)
        out[name] = {"pearson": float(r.mean()), "mse": float(((recons.numpy() - x) ** 2).mean())}
    return out


def performance_table(columns: dict[str, dict[str, float]]) -> str:
    from grading.public import format_table

    rows = [("held-out Pearson (graded)", "pearson", ".4f"), ("held-out MSE", "mse", ".5f"),
            ("dead features (held-out)", "dead", ".1%")]
    body = [(label, *(format(c[key], fmt) if key in c else "-" for c in columns.values()))
            for label, key, fmt in rows]
    return format_table(("metric", *columns), body)


def graded_run(images: np.ndarray):
    """Train the graded run with your code; return the trained ensemble."""
    trainer = Trainer(images, seed=GRADED_SEED, **GRADED_RUN)
    for _ in progress(range(GRADED_RUN["epochs"]), desc="graded run", unit="epoch"):
        trainer.train_epoch(show_progress=False)
    return trainer.model


def parse_args(argv=None) -> GradeConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results_path", default=None,
                        help="a run folder written by train.py, to score as well")
    parser.add_argument("--skip_tests", action="store_true", help="do not run the public tests")
    parser.add_argument("--skip_graded_run", action="store_true",
                        help="do not train the graded run (about a minute)")
    return GradeConfig(**vars(parser.parse_args(argv)))


def main(argv=None) -> dict:
    args = parse_args(argv)
    run_cfg = read_config(args.results_path) if args.results_path else None
    set_thread_budget(1)
    seed_everything(GRADED_SEED)
    summary: dict = {}
    if not args.skip_tests:
        from grading.public import format_test_results, run_public_tests

        run = run_public_tests(LAB_DIR)
        tests, isolation = run.tests, run.isolation
        print(f"---- public tests (isolation: {isolation}) ----")
        print(format_test_results(tests, run.notes))
        summary["public_tests_passed"] = all(t.status == "passed" for t in tests)
    train_images, _ = load_mnist("sample", "train")
    test_images, _ = load_mnist("sample", "test")
    X_train = as_images(train_images).numpy().astype(np.float64)
    X_test = as_images(test_images)
    columns: dict[str, dict[str, float]] = {}
    if not args.skip_graded_run:
        try:
            columns["graded run"] = scores(graded_run(train_images), X_test)
        except Exception as exc:  # noqa: BLE001 - report any failure of the student's code
            print(f"graded run failed: {type(exc).__name__}: {exc}")
            summary["graded_run_error"] = f"{type(exc).__name__}: {exc}"
    if run_cfg is not None:
        columns[f"your run ({run_cfg.n_saes} SAEs)"] = scores(
            load_model(Path(args.results_path) / "sae"), X_test)
    if columns:
        columns.update(baselines(X_train, X_test))
        print("---- reconstruction of the 1,000 held-out digits ----")
        print(performance_table(columns))
        summary.update({name: c for name, c in columns.items()})
    if "graded run" in columns:
        pearson = columns["graded run"]["pearson"]
        summary["performance_points"] = PERFORMANCE.credit(pearson)
        print(f"performance score: {summary['performance_points']:.1f} / {PERFORMANCE.points:g} "
              f"(held-out Pearson {pearson:.4f} of the graded run; full credit from "
              f"{PERFORMANCE.target}, none at or below {PERFORMANCE.floor})")
    return summary


if __name__ == "__main__":
    main()
