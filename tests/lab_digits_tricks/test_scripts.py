"""The fixed scripts run end to end on the reference solution (each in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from common.threads import thread_env

FIGURES = ("optimizers", "inits", "tricks", "best", "search", "activations", "optimizer_paths",
           "confusion_matrix", "misclassified")


def run_script(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, **thread_env(1), "LABS_NO_PROGRESS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, *args], cwd=folder, env=env, capture_output=True,
                            text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


@pytest.mark.slow
def test_train_then_visualize(lab_copy, tmp_path):
    results = tmp_path / "results"
    out = run_script(lab_copy, "train.py", "--epochs", "3", "--search_rounds", "2",
                     "--search_trials", "2", "--search_epochs", "1", "--results_path",
                     str(results))
    assert "chosen on validation" in out.stdout and "Total params: 12,360" in out.stdout
    assert out.stdout.count("test accuracy") == 1  # the test split is looked at once
    (folder,) = results.iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["finals"]) == {"optimizers", "inits", "tricks"}
    assert all(set(final) == {"val_acc", "val_loss", "config"}
               for runs in summary["finals"].values() for final in runs.values())
    assert [t["round"] for t in summary["search"]] == [1, 1, 2, 2]
    assert 0 <= summary["best_test_acc"] <= 1
    final = summary["best_config"]
    assert {k: final[k] for k in ("optimizer", "batch_norm", "dropout")} == {
        "optimizer": "adam", "batch_norm": True, "dropout": 0.2}
    experiments = json.loads((folder / "experiments.json").read_text())
    assert set(experiments) == {"activations", "optimizer_paths"}
    assert "Total params: 12,360" in (folder / "model_summary.txt").read_text()
    histories = json.loads((folder / "histories.json").read_text())
    assert len(histories["inits"]["uniform"]["val_acc"]) == 3
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["args"]["epochs"] == 3
    assert (folder / "best_model" / "best_model.safetensors").is_file()
    confusion = json.loads((folder / "confusion_matrix.json").read_text())
    misclassified = json.loads((folder / "misclassified.json").read_text())
    assert sum(map(sum, confusion)) == 360
    assert len(misclassified) == 360 - sum(confusion[i][i] for i in range(10))
    run_script(lab_copy, "visualization.py", "--results_root", str(results))
    for name in FIGURES:
        with Image.open(folder / "figures" / f"{name}.png") as image:
            assert image.format == "PNG" and image.size[0] > 300


@pytest.mark.slow
def test_load_resources_and_a_cli_error(lab_copy, tmp_path):
    out = run_script(lab_copy, "load_resources.py", "--data_dir", str(tmp_path))
    assert "train X (1077, 64)" in out.stdout and "test  X (360, 64)" in out.stdout
    bad = run_script(lab_copy, "train.py", "--epochs", "0", check=False)
    assert bad.returncode == 2 and "--epochs must be >= 1; received 0" in bad.stderr


@pytest.mark.slow
def test_grade_py_on_the_reference(lab_copy):
    out = run_script(lab_copy, "grade.py", "--epochs", "2")
    assert "7 of 7 public checks passed" in out.stdout
    assert "test accuracy" in out.stdout and ">= 0.965 for full credit" in out.stdout
