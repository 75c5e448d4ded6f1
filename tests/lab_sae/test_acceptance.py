"""The default training run of lab_sae (train.py's defaults, the full budget) meets the issue's
acceptance figures for seeds 0..4: held-out Pearson >= 0.95 and training Pearson >= 0.97 (means
over the SAEs of the final evaluation), dead features <= 5% on the training digits, held-out MSE
below PCA-50's, within 3 minutes.

A run takes about two minutes on an idle 2-core machine (far longer on a busy one), so these
five runs are opt-in:
``LAB_SAE_FULL_BUDGET=1 python -m pytest tests/lab_sae/test_acceptance.py`` (``LAB_SAE_THREADS``
sets the thread budget, default 1 as train.py). The graded run's thresholds are checked in CI by
test_calibration.py."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

FULL_BUDGET = os.environ.get("LAB_SAE_FULL_BUDGET") == "1"


@pytest.mark.slow
@pytest.mark.skipif(not FULL_BUDGET, reason="opt-in: LAB_SAE_FULL_BUDGET=1 (5 full runs)")
@pytest.mark.parametrize("seed", range(5))
def test_default_run_meets_acceptance(lab_module, hidden, tmp_path, seed):
    threads = os.environ.get("LAB_SAE_THREADS", "1")
    run = lab_module("train").main(["--seed", str(seed), "--device", "cpu", "--threads", threads,
                                    "--results_path", str(tmp_path)])
    metrics = json.loads((run / "metrics.json").read_text())
    train, test = metrics["final"]["train"], metrics["final"]["test"]
    X_train, X_test = hidden.flat_images("train"), hidden.flat_images("test")
    pca50 = np.mean((lab_module("metrics").pca_reconstruction(X_train, X_test, 50)
                     - X_test) ** 2)
    summary = {"train_pearson": train["pearson"], "test_pearson": test["pearson"],
               "dead": train["dead_fraction"], "test_mse": test["mse"], "pca50": pca50,
               "time_s": metrics["total_time_s"]}
    assert np.mean(test["pearson"]) >= 0.95, summary
    assert np.mean(train["pearson"]) >= 0.97, summary
    assert max(train["dead_fraction"]) <= 0.05, summary
    assert max(test["mse"]) < pca50, summary
    assert metrics["total_time_s"] <= 180, summary
