"""Fast tests of the reference solution and the lab's fixed modules (in-process, no grader)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from common.data import load_digits_split

OPTIMIZER_CASES = [
    ("SGD", torch.optim.SGD, {}),
    ("SGD", torch.optim.SGD, {"lr": 0.02, "momentum": 0.9, "dampening": 0.3,
                              "weight_decay": 0.1}),
    ("SGD", torch.optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    ("AdaGrad", torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1,
                                      "initial_accumulator_value": 0.5, "eps": 0.1}),
    ("Adam", torch.optim.Adam, {}),
    ("Adam", torch.optim.Adam, {"lr": 0.02, "betas": (0.5, 0.9), "weight_decay": 0.1,
                                "eps": 0.1, "amsgrad": True}),
]


@pytest.mark.parametrize("name, torch_class, options", OPTIMIZER_CASES)
def test_reference_optimizers_match_torch(reference, fixed_module, name, torch_class, options):
    compare = fixed_module("compare")
    params, grads = compare.random_problem(200)
    mine = compare.optimizer_trajectory(getattr(reference, name), params, grads, **options)
    ref = compare.optimizer_trajectory(torch_class, params, grads, **options)
    for a, b in zip(mine, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert torch.equal(mine[2][0], mine[2][-1])  # the parameter without gradients never moves


def test_optimizer_constructors_validate(reference):
    param = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="Nesterov"):
        reference.SGD(param, momentum=0.0, nesterov=True)
    with pytest.raises(ValueError, match="lr must be a number >= 0"):
        reference.Adam(param, lr=-1)
    with pytest.raises(ValueError, match="betas"):
        reference.Adam(param, betas=(0.9, 1.0))


@pytest.mark.parametrize("init, var", [("init_xavier", lambda i, o: 2 / (i + o)),
                                       ("init_he", lambda i, o: 2 / i),
                                       ("init_uniform", lambda i, o: 0.2**2 / 12)])
def test_reference_inits(reference, init, var):
    torch.manual_seed(0)
    layer = torch.nn.Linear(200, 300)
    getattr(reference, init)(layer)
    w = layer.weight.detach().double()
    assert abs(float(w.var()) / var(200, 300) - 1) < 0.03
    assert float(layer.bias.detach().abs().max()) == 0
    bn = reference.BatchNorm1d(3)
    getattr(reference, init)(bn)
    assert torch.equal(bn.weight.detach(), torch.ones(3))


def test_reference_batchnorm_matches_torch(reference, fixed_module):
    compare = fixed_module("compare")
    generator = torch.Generator().manual_seed(0)
    mine, ref = reference.BatchNorm1d(4, momentum=0.3), torch.nn.BatchNorm1d(4, momentum=0.3)
    for _ in range(3):
        x = torch.randn(8, 4, generator=generator) * 3 + 1
        a, b = compare.forward_backward(mine, x), compare.forward_backward(ref, x)
        torch.testing.assert_close(a["out"], b["out"], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a["grad_input"], b["grad_input"], atol=1e-5, rtol=1e-5)
        for key in ("running_mean", "running_var"):
            torch.testing.assert_close(a["buffers"][key], b["buffers"][key])
    x = torch.randn(1, 4, generator=generator)
    a, b = (compare.forward_backward(m, x, train=False) for m in (mine, ref))
    torch.testing.assert_close(a["out"], b["out"], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="at least 2 rows"):
        reference.BatchNorm1d(4).train()(x)


def test_reference_dropout(reference):
    torch.manual_seed(0)
    layer = reference.Dropout(0.25)
    x = torch.ones(200, 200)
    out = layer(x)
    assert abs(float((out == 0).float().mean()) - 0.25) < 0.01
    np.testing.assert_allclose(out.unique().numpy(), [0.0, 1 / 0.75], rtol=1e-6)
    assert torch.equal(layer.eval()(x), x)
    assert torch.equal(reference.Dropout(1.0)(x), torch.zeros_like(x))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        reference.Dropout(1.5)


def test_reference_training_and_evaluation(reference):
    split = load_digits_split()
    config = {"optimizer": "adam", "lr": 1e-3, "dropout": 0.2, "batch_norm": True}
    model, history = reference.train_config(config, split, epochs=3, seed=1)
    _, again = reference.train_config(config, split, epochs=3, seed=1)
    assert history == again and set(history) == {
        "train_losses", "train_accuracies", "val_losses", "val_accuracies",
        "train_loss", "train_acc", "val_loss", "val_acc"}
    assert history["val_acc"] is history["val_accuracies"]  # aliases of one list
    assert history["val_acc"][-1] > 0.7
    loss, acc = reference.evaluate_model(model, split.X_val, split.y_val,
                                         torch.nn.CrossEntropyLoss())
    assert acc == history["val_acc"][-1] and math.isclose(loss, history["val_loss"][-1])
    val_loader = reference.data_loader(split.X_val, split.y_val)  # the original's batches of 32
    assert val_loader.batch_size == 32
    assert reference.evaluate_model(model, val_loader) == acc
    loader_loss, loader_acc = reference.evaluate_model(model, val_loader,
                                                       loss_fn=torch.nn.CrossEntropyLoss())
    assert loader_acc == acc and math.isclose(loader_loss, loss, rel_tol=1e-6)
    test_loader = reference.data_loader(split.X_test, split.y_test)
    test_acc, matrix = reference.evaluate_model_with_confusion_matrix(model, test_loader)
    test_acc_again, errors = reference.evaluate_with_errors(model, test_loader)
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert test_acc == test_acc_again == np.trace(matrix) / 360
    assert len(errors) == 360 - np.trace(matrix)
    figure = reference.plot_error_samples(errors, split.images_test, max_samples=5)
    drawn = [ax for ax in figure.axes if ax.images]
    assert len(drawn) == min(5, len(errors)) and drawn[0].get_title().startswith("true ")
    figure.clf()
    probs = reference.predict_proba(model, split.X_test)
    assert probs.shape == (360, 10) and model.training
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    wrong = reference.misclassified_samples(model, split.X_test, split.y_test)
    assert [s["index"] for s in wrong] == np.flatnonzero(probs.argmax(1) != split.y_test).tolist()
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        reference.fit_model(model, torch.nn.CrossEntropyLoss(), None, 0, split)


def test_reference_confusion_matrix_matches_sklearn(reference):
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
    np.testing.assert_array_equal(reference.confusion_matrix(a, b),
                                  sk_confusion_matrix(a, b, labels=np.arange(10)))
    with pytest.raises(ValueError, match="same length"):
        reference.confusion_matrix(a, b[:10])


def test_reference_sample_config_and_search(reference, fixed_module):
    rng = np.random.default_rng(0)
    space = {"lr": ("loguniform", 1e-4, 1e-1), "p": ("uniform", 0, 1), "k": ("int", 1, 2),
             "opt": ["a", "b"], "c": 3}
    draws = [reference.sample_config(space, rng) for _ in range(200)]
    assert all(1e-4 <= d["lr"] <= 1e-1 and d["k"] in (1, 2) and d["c"] == 3 for d in draws)
    with pytest.raises(ValueError, match="unknown distribution"):
        reference.sample_config({"x": ("normal", 0, 1)}, rng)
    split = load_digits_split()
    recording = fixed_module("data").RecordingSplit(split.X_train, split.y_train, split.X_val,
                                                    split.y_val, split.X_test, split.y_test)
    best, trials = reference.random_search({"lr": ("loguniform", 1e-3, 1e-2)}, 2, seed=0,
                                           split=recording, epochs=1)
    assert recording.test_reads() == [] and len(trials) == 2
    assert best == max(trials, key=lambda t: t["val_acc"])["config"]


def test_recording_split(fixed_module):
    data = fixed_module("data")
    split = data.RecordingSplit(np.zeros((4, 64)), np.zeros(4), np.zeros((2, 64)), np.zeros(2))
    assert split.X_val.shape == (2, 64)
    with pytest.raises(AttributeError, match="no 'y_test'"):
        _ = split.y_test
    assert split.accessed() == ["X_val", "y_test"] and split.test_reads() == ["y_test"]
    with pytest.raises(AttributeError, match="read-only"):
        split.X_val = None
    with pytest.raises(ValueError, match="X_train must have 2 dimension"):
        data.RecordingSplit(np.zeros(4), np.zeros(4), np.zeros((2, 64)), np.zeros(2))


SHORTCUT_SOURCES = {
    "class SGD(torch.optim.SGD):\n    pass\nimport torch\n": "optimizers",
    "import torch.optim as o\nx = o.Adam\n": "optimizers",
    "from torch.optim import Adagrad as A\n": "optimizers",
    "from torch import nn\ndef f(m):\n    nn.init.kaiming_uniform_(m.weight)\n": "init",
    "import torch.nn.functional as F\ny = F.batch_norm\n": "batch_norm",
    "from torch.nn import Dropout\n": "dropout",
    "import torch\ny = torch.nn.functional.dropout\n": "dropout",
}


@pytest.mark.parametrize("source, component", SHORTCUT_SOURCES.items())
def test_shortcut_scanner_finds_library_implementations(hidden_helpers, source, component):
    found = hidden_helpers.find_shortcuts(source)
    assert found[component] and sum(map(len, found.values())) == len(found[component])


def test_shortcut_scanner_accepts_the_reference_and_main_guards(hidden_helpers, lab_copy):
    for path in (lab_copy / "submission.py", lab_copy.parent / "unused.py"):
        source = path.read_text() if path.exists() else ""
        assert not any(hidden_helpers.find_shortcuts(source).values())
    guarded = "import torch\nif __name__ == '__main__':\n    torch.optim.SGD\n"
    assert not any(hidden_helpers.find_shortcuts(guarded).values())
    assert not any(hidden_helpers.find_shortcuts("def broken(:\n").values())
