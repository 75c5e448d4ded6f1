"""The fixed scripts of lab_sae: train.py (with --analyze_loss and the optional loggers),
visualization.py, grade.py and load_resources.py."""

from __future__ import annotations

import json
import sys
import types

import pytest
from PIL import Image

TINY = ["--n_saes", "2", "--n_latents", "32", "--k", "6", "--epochs", "2", "--batch_size",
        "256", "--seed", "1", "--threads", "1"]


def test_train_rejects_bad_flags(lab_module):
    train = lab_module("train")
    with pytest.raises(ValueError, match="cannot exceed"):
        train.parse_args(["--k", "300"])
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        train.parse_args(["--epochs", "0"])
    with pytest.raises(SystemExit):
        train.parse_args(["--device", "tpu"])


@pytest.mark.slow
def test_analyze_loss_prints_the_mean_image_baseline(lab_module, capsys):
    numbers = lab_module("train").main(["--analyze_loss", "--threads", "1"])
    assert numbers["baseline_mse"] == pytest.approx(0.067, abs=0.002)
    assert len(numbers["initial_mse"]) == 3
    assert all(numbers["baseline_mse"] < mse < numbers["zero_mse"]
               for mse in numbers["initial_mse"])
    out = capsys.readouterr().out
    assert "the mean training image (the baseline)" in out and "SAE 2 at initialisation" in out


@pytest.mark.slow
def test_student_flow(lab_module, tmp_path, capsys):
    """train (tiny), visualization (three PNGs), grade on the saved run, load_resources."""
    run = lab_module("train").main([*TINY, "--results_path", str(tmp_path)])
    assert {p.name for p in run.iterdir()} == {"config.json", "metrics.json", "sae"}
    metrics = json.loads((run / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics["epochs"]] == [1, 2]
    for split in ("train", "test"):
        final = metrics["final"][split]
        assert set(final) == {"mse", "nmse", "fve", "pearson", "l0", "dead_fraction", "ensemble"}
        assert len(final["pearson"]) == 2 and all(0 < v <= 6 for v in final["l0"])
    written = lab_module("visualization").main(["--results_path", str(run)])
    assert [p.name for p in written] == ["reconstructions.png", "training_metrics.png",
                                         "sae_features.png"]
    for path in written:
        assert Image.open(path).size[0] > 300
    summary = lab_module("grade").main(["--results_path", str(run), "--skip_tests",
                                        "--skip_graded_run"])
    assert 0.5 < summary["your run (2 SAEs)"]["pearson"] < 1.0
    assert "PCA-50" in capsys.readouterr().out
    numbers = lab_module("load_resources").main([])
    assert numbers["mean_image_mse_train"] == pytest.approx(0.067, abs=0.002)


@pytest.mark.slow
def test_grade_runs_public_tests_and_a_graded_run(lab_module, monkeypatch, capsys):
    grade = lab_module("grade")
    monkeypatch.setattr(grade, "GRADED_RUN", {**grade.GRADED_RUN, "n_latents": 32, "k": 6,
                                              "epochs": 1})
    summary = grade.main([])
    assert summary["public_tests_passed"] is False  # the lab folder holds the blank stub
    assert 0.3 < summary["graded run"]["pearson"] < 1.0
    out = capsys.readouterr().out
    assert "public tests" in out and "held-out Pearson (graded)" in out
    assert 0.0 <= summary["performance_points"] <= 20.0 and "performance score:" in out


def test_grade_reports_a_graded_run_that_fails_without_a_traceback(lab_module, monkeypatch,
                                                                   capsys):
    grade = lab_module("grade")

    def stub(*args, **kwargs):
        raise NotImplementedError("lab_sae: SAEEnsemble.reset_parameters")

    monkeypatch.setattr(grade, "Trainer", stub)
    summary = grade.main(["--skip_tests"])
    out = capsys.readouterr().out
    assert "graded run failed: NotImplementedError: lab_sae: SAEEnsemble.reset_parameters" in out
    assert "performance_points" not in summary and "graded_run_error" in summary


def test_visualization_rejects_a_folder_that_is_not_a_run(lab_module, tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        lab_module("visualization").main(["--results_path", str(tmp_path)])


class _FakeWandb(types.ModuleType):
    def __init__(self):
        super().__init__("wandb")
        self.logged, self.finished, self.mode = [], False, None

    def init(self, **kwargs):
        self.mode = kwargs["mode"]
        return self

    def log(self, values, step):
        self.logged.append((step, values))

    def finish(self):
        self.finished = True


@pytest.mark.slow
def test_wandb_logging_offline(lab_module, tmp_path, monkeypatch):
    fake = _FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    lab_module("train").main([*TINY, "--results_path", str(tmp_path), "--log_to", "wandb"])
    assert fake.mode == "offline" and fake.finished
    assert [step for step, _ in fake.logged] == [1, 2]
    assert "test/pearson/sae1" in fake.logged[0][1]


@pytest.mark.slow
def test_missing_logger_package_is_not_fatal(lab_module, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    run = lab_module("train").main([*TINY, "--epochs", "1", "--results_path", str(tmp_path),
                                    "--log_to", "wandb"])
    assert (run / "sae" / "sae.safetensors").is_file()
    assert "W&B is not installed" in capsys.readouterr().out
    (line,) = (run / "metrics.jsonl").read_text().splitlines()  # the offline file instead
    logged = json.loads(line)
    assert logged["step"] == 1 and 0 < logged["test/pearson/sae1"] <= 1


@pytest.mark.slow
def test_tensorboard_logging(lab_module, tmp_path, monkeypatch):
    scalars = []

    class Writer:
        def __init__(self, log_dir):
            self.log_dir = log_dir

        def add_scalar(self, name, value, step):
            scalars.append((name, step))

        def close(self):
            scalars.append(("closed", -1))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = Writer
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    lab_module("train").main([*TINY, "--results_path", str(tmp_path), "--log_to",
                              "tensorboard"])
    assert ("loss", 2) in scalars and scalars[-1] == ("closed", -1)


def test_original_flags_map_onto_train_py(lab_module):
    """mnist_sae_train.py's flags (the original assignment's) become train.py's settings."""
    original, train = lab_module("mnist_sae_train"), lab_module("train")
    args = original.parse_args(["--k", "8", "--latent_dim", "64", "--n_models", "2", "--lr",
                                "0.002", "--batch_size", "128", "--epochs", "3", "--seed", "5",
                                "--device", "cpu", "--no_amp", "--no_wandb", "--results_path",
                                "out"])
    config = train.parse_args(original.train_argv(args))
    assert (config.k, config.n_latents, config.n_saes, config.lr, config.batch_size,
            config.epochs, config.seed, config.device, config.amp, config.log_to,
            config.results_path) == (8, 64, 2, 0.002, 128, 3, 5, "cpu", False, "jsonl", "out")
    aliases = original.parse_args(["--n_latents", "32", "--k", "6", "--ensemble", "4",
                                   "--analyze_loss"])
    config = train.parse_args(original.train_argv(aliases))
    assert (config.n_latents, config.n_saes, config.analyze_loss) == (32, 4, True)
    defaults = train.parse_args(original.train_argv(original.parse_args([])))
    assert defaults == train.parse_args(["--log_to", "wandb"])  # train.py's defaults, W&B on
    with pytest.raises(ValueError, match="cannot exceed"):
        train.parse_args(original.train_argv(original.parse_args(["--k", "300"])))


@pytest.mark.slow
def test_original_entry_point_trains_and_logs_offline(lab_module, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed: metrics.jsonl instead
    run = lab_module("mnist_sae_train").main([
        "--n_models", "2", "--latent_dim", "32", "--k", "6", "--epochs", "2", "--batch_size",
        "256", "--threads", "1", "--results_path", str(tmp_path)])
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    assert lines[-1]["loss"] < lines[0]["loss"] and "test/dead_fraction/sae1" in lines[0]
    assert (run / "sae" / "sae.safetensors").is_file()
