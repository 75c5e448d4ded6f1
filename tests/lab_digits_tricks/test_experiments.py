"""The original notebook's experiments (``experiments.py``) and the narrowing random search of
``train.py``, run in-process on the reference solution."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.data import load_digits_split
from grading.examples import reference_lab

from .conftest import LAB


@pytest.fixture(scope="module")
def lab_modules():
    """(experiments, train, submission): the fixed modules importing the reference."""
    with reference_lab(LAB) as import_module:
        yield import_module("experiments"), import_module("train"), import_module("submission")


def test_optimizer_paths_follow_torch_and_reach_the_minimum(lab_modules):
    experiments, _, _ = lab_modules
    paths = experiments.optimizer_paths()
    torch_classes = {"SGD": torch.optim.SGD, "Momentum": torch.optim.SGD,
                     "AdaGrad": torch.optim.Adagrad, "Adam": torch.optim.Adam}
    for name, run in paths.items():
        xy = torch.tensor(experiments.START, dtype=torch.float64, requires_grad=True)
        optimizer = torch_classes[name]([xy], **run["options"])
        expected = [xy.detach().tolist()]
        for _ in range(experiments.PATH_STEPS):
            optimizer.zero_grad()
            experiments.toy_function(xy).backward()
            optimizer.step()
            expected.append(xy.detach().tolist())
        np.testing.assert_allclose(run["path"], expected, rtol=1e-10, atol=1e-12)
        assert run["final_f"] < 0.2, (name, run["final_f"])  # from f(-7, 2) = 6.45
    sgd_y = np.asarray(paths["SGD"]["path"])[:10, 1]
    assert np.all(np.sign(sgd_y[1:]) != np.sign(sgd_y[:-1]))  # plain SGD zigzags across y = 0


def test_activation_histograms_show_saturation_then_spread(lab_modules):
    experiments, _, _ = lab_modules
    X = load_digits_split().X_train
    result = experiments.activation_histograms(X)
    assert list(result) == list(experiments.NETWORKS)
    for rows in result.values():
        assert [row["layer"] for row in rows] == [1, 2, 3, 4, 5]
        for row in rows:
            assert sum(row["counts"]) == X.shape[0] * experiments.ACTIVATION_WIDTH
    uniform = result["sigmoid, U(0, 1)"]
    assert all(row["saturated"] > 0.99 for row in uniform[2:])  # every output near 1
    for name in ("sigmoid, Xavier", "sigmoid, He"):
        assert all(row["saturated"] < 0.05 and row["std"] > 0.1 for row in result[name])
    assert result == experiments.activation_histograms(X)  # torch.manual_seed(42) each time


def test_model_summary_counts_every_layer(lab_modules):
    experiments, _, submission = lab_modules
    model = submission.make_model({"batch_norm": True, "dropout": 0.2})
    text = experiments.model_summary(model, batch_size=32)
    total = sum(p.numel() for p in model.parameters())
    assert total == 12_360 and f"Total params: {total:,}" in text
    for layer, shape, count in (("Linear-1", "[32, 100]", "6,500"),
                                ("BatchNorm1d-2", "[32, 50]", "100"),
                                ("Dropout-2", "[32, 50]", "0"), ("Linear-3", "[32, 10]", "510")):
        row = next(line for line in text.splitlines() if line.strip().startswith(layer))
        assert shape in row and row.split()[-1] == count, row
    assert model.training  # the summary's forward pass restores the mode


def test_narrowed_ranges_span_the_best_trials_within_the_first_range(lab_modules):
    _, train, _ = lab_modules
    trials = [{"config": {"lr": lr, "weight_decay": wd}, "val_acc": acc}
              for lr, wd, acc in ((1e-3, 1e-6, 0.97), (3e-3, 1e-5, 0.96), (5e-2, 1e-8, 0.5),
                                  (8e-2, 5e-4, 0.9))]
    ranges = train.narrowed_ranges(trials, keep=2)
    assert ranges["lr"] == pytest.approx((5e-4, 6e-3))
    assert ranges["weight_decay"] == pytest.approx((5e-7, 2e-5))
    wide = train.narrowed_ranges(trials, keep=4)
    assert wide["lr"] == pytest.approx((5e-4, 0.1))  # 8e-2 * 2 capped at the first range
    assert wide["weight_decay"] == pytest.approx((1e-8, 1e-3))


def test_short_history_reads_either_key_set_and_percentages(lab_modules):
    _, train, _ = lab_modules
    original = {"train_losses": [1.0, 0.5], "train_accuracies": [50.0, 90.0],
                "val_losses": [1.1, 0.6], "val_accuracies": [0.4, 0.8]}
    history = train.short_history(original)
    assert history == {"train_loss": [1.0, 0.5], "train_acc": [0.5, 0.9],
                       "val_loss": [1.1, 0.6], "val_acc": [0.4, 0.8]}
    with pytest.raises(ValueError, match="neither 'val_accuracies' nor 'val_acc'"):
        train.short_history({k: v for k, v in original.items() if k != "val_accuracies"})
