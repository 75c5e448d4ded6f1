"""The hidden performance tests' runs (``digits_run``), put together by the grader from the
student's building blocks, against the given ``train_config``: with the reference solution both
train the same network, the grader's forward pass gives the network's own logits, and what the
worker answers is checked before it is used."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from common.data import load_digits_split
from tests.hidden_modules import hidden_module

from .conftest import LAB


@pytest.fixture(scope="module")
def hidden_run():
    """The hidden tests' ``digits_run``."""
    return hidden_module(LAB, "digits_run")


def test_defaults_are_train_configs(reference, hidden_run):
    assert hidden_run.DEFAULT_CONFIG == reference.DEFAULT_CONFIG
    assert set(hidden_run.INITS) == set(reference.INITS)
    assert all(getattr(reference, name) is reference.INITS[key]
               for key, name in hidden_run.INITS.items())


@pytest.mark.parametrize("config", [
    {"optimizer": "adam", "lr": 1e-3, "init": "he", "batch_norm": True, "dropout": 0.3},
    {"optimizer": "sgd", "lr": 0.01, "init": "xavier"},
    {"optimizer": "momentum", "lr": 0.01, "momentum": 0.5, "init": "uniform",
     "weight_decay": 1e-3},
    {"optimizer": "nesterov", "lr": 0.01, "init": "he", "batch_norm": True},
    {"optimizer": "adagrad", "lr": 0.01, "init": "he", "dropout": 0.2},
], ids=["adam-bn-dropout", "sgd", "momentum", "nesterov-bn", "adagrad-dropout"])
def test_grader_built_run_equals_train_config(reference, hidden_run, config):
    split = load_digits_split()
    model, history = reference.train_config(config, split, 2, 7)
    trained = hidden_run.train_with_student_blocks(reference, importlib.import_module, split,
                                                   config, 2, 7)
    state = {key.removeprefix("net."): value for key, value in model.state_dict().items()}
    assert set(state) == set(trained.state)
    for key, value in state.items():
        assert torch.equal(value, trained.state[key]), key
    assert trained.history == {key: history[key] for key in hidden_run.HISTORY_KEYS}
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(split.X_test)).double().numpy()
    np.testing.assert_allclose(hidden_run.grader_logits(trained.state, trained.config,
                                                        split.X_test), logits, atol=1e-5)


def test_trained_state_is_checked_before_use(hidden_run):
    config = {**hidden_run.DEFAULT_CONFIG, "batch_norm": True}
    shapes = hidden_run.expected_state(config)
    assert shapes["1.running_var"] == (100,) and shapes["3.weight"] == (50, 100)
    good = {key: torch.zeros(shape) for key, shape in shapes.items()}
    assert set(hidden_run.checked_state(good, config)) == set(shapes)
    with pytest.raises(AssertionError, match=r"0.weight must be .* received shape \(20000, 1, "
                                             r"1\)"):
        hidden_run.checked_state({**good, "0.weight": torch.zeros(20000, 1, 1)}, config)
    with pytest.raises(AssertionError, match="must hold exactly"):
        hidden_run.checked_state({**good, "1.num_batches_tracked": torch.zeros(())}, config)
    with pytest.raises(AssertionError, match="dtype torch.float64"):
        hidden_run.checked_state({**good, "6.bias": torch.zeros(10, dtype=torch.float64)},
                                 config)
    with pytest.raises(AssertionError, match="NaN or infinite"):
        hidden_run.checked_state({**good, "3.bias": torch.full((50,), float("nan"))}, config)
    with pytest.raises(AssertionError, match="one value per epoch"):
        hidden_run.checked_history({key: [0.5] for key in hidden_run.HISTORY_KEYS}, 2)


def test_history_in_the_original_keys_or_ours_and_in_percent(hidden_run):
    original = {"train_losses": [1.0, 0.5], "train_accuracies": [0.5, 0.9],
                "val_losses": [1.1, 0.6], "val_accuracies": [40.0, 80.0]}
    short = {"train_loss": [1.0, 0.5], "train_acc": [0.5, 0.9], "val_loss": [1.1, 0.6],
             "val_acc": [0.4, 0.8]}
    assert hidden_run.checked_history(original, 2) == short
    assert hidden_run.checked_history(short, 2) == short
    with pytest.raises(AssertionError, match=r"no 'val_accuracies' \(or 'val_acc'\)"):
        hidden_run.checked_history({k: v for k, v in original.items()
                                    if k != "val_accuracies"}, 2)
    with pytest.raises(AssertionError, match=r"val_accuracies must be fractions in \[0, 1\]"):
        hidden_run.checked_history({**original, "val_accuracies": [40.0, 180.0]}, 2)
    assert hidden_run.as_fractions([0.2, 1.0]) == [0.2, 1.0]
    assert hidden_run.as_fractions([20.0, 97.5]) == [0.2, 0.975]
