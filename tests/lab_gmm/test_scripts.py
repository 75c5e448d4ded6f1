"""The fixed scripts of lab_gmm: train.py, visualization.py, grade.py, load_resources.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from common.artifacts import ArtifactError


def test_train_rejects_bad_flags(lab_module):
    train = lab_module("train")
    with pytest.raises(ValueError, match="--embedding_dim"):
        train.parse_args(["--embedding_dim", "1000"])
    with pytest.raises(ValueError, match="--max_iter"):
        train.parse_args(["--max_iter", "0"])


def test_results_path_takes_the_original_handouts_datetime_placeholder(lab_module, tmp_path,
                                                                       capsys, monkeypatch):
    """`--results_path "../results/{datetime}"`, typed as the original handout writes it: train.py
    creates its run folder under ../results, grade.py and visualization.py use the latest run."""
    train = lab_module("train")
    assert train.runs_root(tmp_path / "results" / "{datetime}") == tmp_path / "results"
    assert train.runs_root(tmp_path / "results") == tmp_path / "results"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="holds one. Run `python train.py --use_pca"):
        train.resolve_run(tmp_path / "results" / "{datetime}")
    for name in ("2026-01-02_00-00-00", "2026-01-01_00-00-00", "2026-01-03_00-00-00"):
        (tmp_path / "results" / name).mkdir(parents=True)
    (tmp_path / "results" / "2026-01-02_00-00-00" / "config.yaml").write_text("use_pca: true\n")
    (tmp_path / "results" / "2026-01-01_00-00-00" / "config.yaml").write_text("use_pca: true\n")
    latest = tmp_path / "results" / "2026-01-02_00-00-00"  # the 01-03 folder is not a run
    assert train.resolve_run(f"{tmp_path}/results/{{datetime}}") == latest
    assert "using the latest run" in capsys.readouterr().out
    assert train.resolve_run(latest) == latest
    # train.py's default folder serves "../results/{datetime}" when ../results holds no run
    (tmp_path / "lab").mkdir()
    monkeypatch.chdir(tmp_path / "lab")
    (tmp_path / "lab" / "results" / "2026-02-01_00-00-00").mkdir(parents=True)
    (tmp_path / "lab" / "results" / "2026-02-01_00-00-00" / "config.yaml").write_text("seed: 0\n")
    assert train.resolve_run("../elsewhere/{datetime}") == Path("results/2026-02-01_00-00-00")


def test_hub_pull_fails_fast_offline(lab_module, monkeypatch, tmp_path):
    resources = lab_module("load_resources")
    monkeypatch.setattr(resources, "_hub_reachable", lambda: False)
    start = time.monotonic()
    with pytest.raises(ArtifactError, match="not reachable"):
        resources.main(["--resources_dir", str(tmp_path), "--ae_repo_id", "someone/mnist-ae"])
    assert time.monotonic() - start < 30


def test_ddpm_checkpoint_round_trip(lab_module, tmp_path):
    resources = lab_module("load_resources")
    model = lab_module("model").PCADenoiser(data_dim=4, hidden=16)
    optimizer = torch.optim.Adam(model.parameters())
    loss = model(torch.randn(8, 4), torch.zeros(8, dtype=torch.long),
                 torch.zeros(8, dtype=torch.long)).square().mean()
    loss.backward()
    optimizer.step()
    resources._save_checkpoint(tmp_path, model, optimizer, 7, [1.0])
    fresh = lab_module("model").PCADenoiser(data_dim=4, hidden=16)
    fresh_optimizer = torch.optim.Adam(fresh.parameters())
    step, losses = resources._load_checkpoint(tmp_path, fresh, fresh_optimizer)
    assert (step, losses) == (7, [1.0])
    for a, b in zip(model.parameters(), fresh.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    saved = optimizer.state_dict()["state"][0]["exp_avg"]
    torch.testing.assert_close(fresh_optimizer.state_dict()["state"][0]["exp_avg"], saved)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # --max_iter 20
def test_student_flow(lab_module, monkeypatch, tmp_path):
    """load_resources (tiny), train --use_pca, visualization (both colourings), grade."""
    resources = lab_module("load_resources")
    folder = str(tmp_path / "resources")
    root = resources.main(["--resources_dir", folder, "--ae_epochs", "1", "--ddpm_steps", "20"])
    assert (root / "ae" / "model.safetensors").is_file()
    start = time.monotonic()
    resources.main(["--resources_dir", folder])
    assert time.monotonic() - start < 10, "a second run must find the cached models"

    # the results path as the original handout writes it: "../results/{datetime}"
    handout_path = str(tmp_path / "results" / "{datetime}")
    run = lab_module("train").main(["--use_pca", "--seed", "0", "--max_iter", "20",
                                    "--results_path", handout_path])
    assert run.parent == tmp_path / "results"
    assert {p.name for p in run.iterdir()} == {"gmm", "pca", "config.yaml"}
    visualization = lab_module("visualization")
    monkeypatch.setattr(visualization, "tsne_embedding",
                        lambda X, cache: np.random.default_rng(0).normal(size=(len(X), 2)))
    for flags in ([], ["--cluster_label"]):
        visualization.main(["--results_path", handout_path, "--resources_dir", folder, *flags])
    names = {p.name for p in run.glob("*.png")}
    assert names == {f"{tag}_{view}.png" for tag in ("true", "cluster")
                     for view in ("pca", "tsne", "ae")}

    grade = lab_module("grade")
    monkeypatch.setattr(grade, "LAB_DIR", tmp_path)
    summary = grade.main(["--sample_index", "3", "--results_path", handout_path, "--skip_tests",
                          "--resources_dir", folder])
    assert summary["run"] == str(run)
    assert "six_cluster_ok" in summary
    assert 0.0 <= summary["performance_points"] <= 30.0
    assert json.loads((tmp_path / "answers.json").read_text())["sample_index"] == 3
    for name in ("gmm_sample.png", "ddpm_sample.png"):
        image = Image.open(run / name)
        assert (image.mode, image.size) == ("L", (28, 28))
