"""Public checks of the lab (run them with ``python grade.py``): quick and partial.

The graded tests are stricter: optimisers over 200 steps and every option, init statistics,
BatchNorm's running statistics, random search, and test accuracy after training.
"""

import math

import numpy as np
import pytest
import torch

from common.data import load_digits_split


@pytest.mark.points(1)
def test_he_init_bound(submission, fixed):
    """init_he keeps the weights of nn.Linear(64, 100) within sqrt(6 / 64)"""
    layer = fixed("torch").nn.Linear(64, 100)
    submission.init_he(layer)
    weight = layer.weight.detach().numpy()
    bound = math.sqrt(6 / 64)
    assert np.abs(weight).max() <= bound + 1e-6, (
        f"max |w| = {np.abs(weight).max():.3f} > {bound:.3f}")
    assert np.abs(weight).max() > 0.9 * bound, "the weights do not fill [-bound, bound]"
    assert np.all(layer.bias.detach().numpy() == 0), "the bias must be 0"


@pytest.mark.points(1)
@pytest.mark.parametrize("name, options", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                           ("Adam", {"lr": 0.01})], ids=["SGD", "Adam"])
def test_optimizer_first_steps(submission, fixed, name, options):
    """the optimiser follows torch.optim for 5 float64 steps"""
    compare, torch_there = fixed("compare"), fixed("torch")
    params, grads = compare.random_problem(5)
    mine = compare.optimizer_trajectory(getattr(submission, name), params, grads, **options)
    ref = compare.optimizer_trajectory(getattr(torch_there.optim, name), params, grads,
                                       **options)
    for a, b in zip(mine, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.points(1)
def test_batchnorm_normalises_in_training(submission):
    """BatchNorm1d in training mode gives each feature mean 0 and variance 1"""
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(0)) * 3 + 2
    out = submission.BatchNorm1d(5)(x).detach()
    torch.testing.assert_close(out.mean(dim=0), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(dim=0, unbiased=False), torch.ones(5), atol=1e-3, rtol=0)


@pytest.mark.points(1)
def test_dropout_eval_identity(submission):
    """Dropout in eval mode is the identity"""
    layer = submission.Dropout(0.5)
    layer.eval()
    x = torch.randn(10, 10)
    assert torch.equal(layer(x), x)


@pytest.mark.points(1)
def test_confusion_matrix_small(submission):
    """confusion_matrix on a 3-class example"""
    got = submission.confusion_matrix(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]),
                                      num_classes=3)
    np.testing.assert_array_equal(got, [[1, 0, 0], [0, 0, 1], [0, 1, 1]])


@pytest.mark.points(1)
def test_fit_model_one_epoch(submission, fixed):
    """train_config runs one epoch and fit_model returns the four history lists"""
    digits = load_digits_split()  # loaded here and sent over: the grader's sandbox has no data
    split = fixed("data").RecordingSplit(digits.X_train, digits.y_train, digits.X_val,
                                         digits.y_val)
    _, history = submission.train_config({"optimizer": "sgd", "lr": 0.01}, split, epochs=1)
    keys = ("train_losses", "train_accuracies", "val_losses", "val_accuracies")
    missing = [key for key in keys if key not in history]
    assert not missing, f"the history has no {missing}; it has {sorted(history)}"
    assert all(len(history[key]) == 1 for key in keys)
