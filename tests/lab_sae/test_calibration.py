"""The performance rubric of lab_sae, calibrated over seeds 0..4: the graded run of the reference
gets full credit, trivial reconstructions get none."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grading.scoring import load_rubric

from .conftest import LAB_DIR

RUBRIC = load_rubric(LAB_DIR / "instructor" / "rubric.json")


def test_grade_py_shows_the_graded_run(lab_module, hidden):
    assert lab_module("trainer").GRADED_RUN == hidden.GRADED_RUN
    shown, graded = lab_module("grade").PERFORMANCE, RUBRIC["heldout_pearson"]
    assert (shown.floor, shown.target, shown.points) == (graded.floor, graded.target,
                                                         graded.points)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_reference_gets_full_credit(lab_module, hidden, hidden_run, seed):
    """The graded run as the grader drives it (``sae_run.GradedRun``; in process here, with the
    reference as the student's module), scored as the hidden test scores it."""
    torch.set_num_threads(1)
    X_train, X_test = hidden.flat_images("train"), hidden.flat_images("test")
    config = {key: value for key, value in hidden.GRADED_RUN.items() if key != "device"}
    run = hidden_run.GradedRun(lab_module("submission"), lab_module, X_train, seed, config).fit()
    report = hidden.heldout_report(run.numpy(), hidden.GRADED_RUN["k"], X_train, X_test)
    threshold = RUBRIC["heldout_pearson"]
    assert report["pearson"] >= threshold.target + 0.004, report
    assert threshold.credit(report["pearson"]) == threshold.points
    assert report["mse"] < report["pca50_mse"], report


def test_trivial_reconstructions_get_no_credit(lab_module, hidden):
    X_train, X_test = hidden.flat_images("train"), hidden.flat_images("test")
    threshold = RUBRIC["heldout_pearson"]
    mean_image = np.tile(X_train.mean(axis=0), (len(X_test), 1))
    assert threshold.credit(float(hidden.pearson(X_test, mean_image).mean())) == 0.0
    torch.manual_seed(0)
    untrained = lab_module("trainer").Trainer(X_train, **hidden.GRADED_RUN).model
    params = {n: p.detach().double().numpy() for n, p in untrained.named_parameters()}
    report = hidden.heldout_report(params, 50, X_train, X_test)
    assert threshold.credit(report["pearson"]) == 0.0, report
    assert report["pca50_mse"] == pytest.approx(0.0121, abs=2e-4)
    pca_pearson = hidden.pearson(X_test, lab_module("metrics").pca_reconstruction(
        X_train, X_test, 50)).mean()
    assert threshold.floor < pca_pearson < threshold.target  # PCA-50 is not full credit
