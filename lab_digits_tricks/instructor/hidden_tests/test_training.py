"""Hidden tests of training and evaluation: predict_proba / evaluate_model, the confusion
matrix and the misclassified list; fit_model, determinism, sample_config and random_search;
test accuracy of the submission's own training (partial credit).

Expected values come from the grader (the MLP's weights read back and evaluated here with
torch; sklearn's confusion matrix). Splits are ``data.RecordingSplit`` objects built in the
worker: they record every field the submission reads, so the grader can check that the test
split is never looked at. Performance runs hold no test data in the worker at all: the grader
sends the test *inputs* to the trained model and scores its predictions here.

PYTEST_DONT_REWRITE: the assertion messages are written for the student as they are.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

N_ROWS = 200


def _as_array(value, what):
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    assert isinstance(value, np.ndarray), f"{what} must return an ndarray; got " \
                                          f"{type(value).__name__}"
    return value


@pytest.fixture
def untrained(submission, fixed, digits):
    """An MLP with dropout 0.5 built in the worker, the same network rebuilt here, and data."""
    fixed("torch").manual_seed(0)
    model = submission.MLP(dropout=0.5)
    vector = fixed("torch.nn.utils").parameters_to_vector(model.parameters()).detach()
    here = torch.nn.Sequential(torch.nn.Linear(64, 100), torch.nn.ReLU(),
                               torch.nn.Linear(100, 50), torch.nn.ReLU(),
                               torch.nn.Linear(50, 10))
    torch.nn.utils.vector_to_parameters(vector, here.parameters())
    X, y = digits.X_val[:N_ROWS], digits.y_val[:N_ROWS]
    with torch.no_grad():
        logits = here(torch.as_tensor(X))
    return model, X, y, logits


@pytest.mark.points(4)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Switch to model.eval() and torch.no_grad() (dropout off), apply softmax "
                  "over classes, and put the model back in the mode it was in.")
def test_predict_proba_and_evaluate_model(submission, fixed, untrained):
    """predict_proba and evaluate_model use eval mode and agree with the network"""
    model, X, y, logits = untrained
    model.train()
    probs = _as_array(submission.predict_proba(model, X), "predict_proba")
    assert probs.shape == (N_ROWS, 10), f"predict_proba returned shape {probs.shape}, " \
                                        f"expected ({N_ROWS}, 10)"
    expected = torch.softmax(logits, dim=1).numpy()
    again = _as_array(submission.predict_proba(model, X), "predict_proba")
    assert np.array_equal(probs, again), (
        "two predict_proba calls on the same model gave different probabilities: dropout is "
        "still active (use model.eval())")
    np.testing.assert_allclose(probs, expected, atol=1e-5, err_msg=(
        "predict_proba is not the softmax of the network's output in eval mode"))
    assert model.training, "predict_proba left the model in eval mode; restore training mode"
    loss_fn = fixed("torch").nn.CrossEntropyLoss()
    result = submission.evaluate_model(model, X, y, loss_fn)
    assert isinstance(result, tuple | list) and len(result) == 2, (
        f"evaluate_model must return (loss, accuracy); got {result!r:.100}")
    loss, accuracy = (float(v) for v in result)
    expected_loss = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(y)))
    expected_accuracy = float((logits.argmax(dim=1).numpy() == y).mean())
    assert abs(loss - expected_loss) < 1e-4, (
        f"evaluate_model's loss is {loss:.6f}; the mean cross-entropy in eval mode is "
        f"{expected_loss:.6f}")
    assert abs(accuracy - expected_accuracy) < 1e-6, (
        f"evaluate_model's accuracy is {accuracy:.4f}; expected {expected_accuracy:.4f} (a "
        "fraction in [0, 1])")
    assert model.training, "evaluate_model left the model in eval mode; restore training mode"


@pytest.mark.points(3)
@pytest.mark.time_limit(30)
@pytest.mark.hint("C[i, j] counts samples of true class i predicted as j; the matrix is "
                  "num_classes x num_classes even when some classes never occur.")
def test_confusion_matrix_matches_sklearn(submission):
    """confusion_matrix equals sklearn's (rows: true class, columns: predicted)"""
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 10, 500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, 10, 500))
    cases = [(y_true, y_pred, 10), (y_true[y_true < 5], y_pred[y_true < 5] % 5, 10),
             (rng.integers(0, 3, 40), rng.integers(0, 3, 40), 3)]
    for a, b, k in cases:
        got = _as_array(submission.confusion_matrix(a, b, num_classes=k), "confusion_matrix")
        expected = sk_confusion_matrix(a, b, labels=np.arange(k))
        assert got.shape == (k, k), f"confusion_matrix returned shape {got.shape}; " \
                                    f"expected ({k}, {k})"
        assert np.issubdtype(got.dtype, np.integer), (
            f"confusion_matrix must hold integer counts; got dtype {got.dtype}")
        if np.array_equal(got, expected.T) and not np.array_equal(got, expected):
            raise AssertionError("confusion_matrix is transposed: rows must be the true "
                                 "class, columns the predicted class")
        assert np.array_equal(got, expected), (
            f"confusion_matrix differs from sklearn's in {int((got != expected).sum())} "
            f"cells (num_classes={k})")


@pytest.mark.points(3)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Use predict_proba: a sample is misclassified when the argmax differs from "
                  "its label; prob is the probability of the (wrong) predicted class.")
def test_misclassified_samples(submission, untrained):
    """misclassified_samples lists every wrong prediction with its probability"""
    model, X, y, logits = untrained
    probs = torch.softmax(logits, dim=1).numpy()
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    samples = submission.misclassified_samples(model, X, y)
    assert isinstance(samples, list), (
        f"misclassified_samples must return a list of dicts; got {type(samples).__name__}")
    for sample in samples[:3]:
        assert isinstance(sample, dict) and {"index", "true", "pred", "prob"} <= set(sample), (
            f"each item must be a dict with index, true, pred, prob; got {sample!r:.120}")
    indices = [int(s["index"]) for s in samples]
    assert indices == wrong.tolist(), (
        f"expected {len(wrong)} misclassified samples in index order (first indices "
        f"{wrong[:5].tolist()}); got {len(indices)} (first {indices[:5]})")
    for s in samples:
        i = int(s["index"])
        assert int(s["true"]) == y[i] and int(s["pred"]) == pred[i], (
            f"sample {i}: expected true {y[i]}, pred {pred[i]}; got true {s['true']}, "
            f"pred {s['pred']}")
        assert abs(float(s["prob"]) - probs[i, pred[i]]) < 1e-5, (
            f"sample {i}: prob should be the probability of the predicted class, "
            f"{probs[i, pred[i]]:.4f}; got {float(s['prob']):.4f}")


KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")
SPACE = {
    "lr": ("loguniform", 1e-4, 1e-1),
    "dropout": ("uniform", 0.1, 0.5),
    "optimizer": ["sgd", "momentum", "adam"],
    "batch_norm": [False, True],
    "depth": ("int", 1, 3),
    "batch_size": 64,
}
SEARCH_SPACE = {"optimizer": ["momentum", "adam"], "lr": ("loguniform", 1e-3, 1e-2),
                "batch_norm": [False, True]}


def _check_history(history, epochs):
    assert isinstance(history, dict), f"fit_model must return a dict; got " \
                                      f"{type(history).__name__}"
    missing = [k for k in KEYS if k not in history]
    assert not missing, f"the history has no {', '.join(missing)} (keys: {sorted(history)})"
    for key in KEYS:
        values = history[key]
        assert len(values) == epochs, f"history[{key!r}] has {len(values)} values; expected " \
                                      f"one per epoch ({epochs})"
        assert all(math.isfinite(float(v)) for v in values), f"history[{key!r}] holds NaN/inf"
    for key in ("train_acc", "val_acc"):
        assert all(0 <= float(v) <= 1 for v in history[key]), (
            f"history[{key!r}] must hold fractions in [0, 1]; got {history[key][:3]}")


def _test_reads_message(reads, what):
    return (f"{what} read the test split ({', '.join(reads)}); training and model selection "
            "may use only X_train, y_train, X_val and y_val")


@pytest.mark.points(4)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Each epoch: model.train(), shuffle, loop over mini-batches (zero_grad, "
                  "forward, loss, backward, step), then evaluate_model on the validation "
                  "split; read only split.X_train, y_train, X_val, y_val.")
def test_fit_model_history(submission, fixed, recording_split):
    """fit_model trains, returns the per-epoch history and never reads the test split"""
    split = recording_split(with_test=True)
    torch_remote = fixed("torch")
    torch_remote.manual_seed(0)
    model = submission.MLP()  # torch's own init and Adam: this test depends on fit_model only
    optimizer = torch_remote.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch_remote.nn.CrossEntropyLoss()
    history = submission.fit_model(model, loss_fn, optimizer, 8, split, batch_size=64, seed=0)
    _check_history(history, 8)
    assert split.test_reads() == [], _test_reads_message(split.test_reads(), "fit_model")
    read = set(split.accessed())
    assert {"X_train", "y_train", "X_val", "y_val"} <= read, (
        f"fit_model must train on split.X_train / y_train and validate on split.X_val / y_val "
        f"(it read only {sorted(read) or 'nothing'})")
    assert history["val_acc"][-1] > 0.85, (
        f"after 8 epochs of Adam (lr 1e-3) validation accuracy should exceed 0.85; "
        f"got {history['val_acc'][-1]:.3f}")
    assert history["train_loss"][-1] < history["train_loss"][0], "the training loss did not " \
                                                                 "decrease"
    loss, accuracy = submission.evaluate_model(model, split.X_val, split.y_val, loss_fn)
    assert abs(float(accuracy) - float(history["val_acc"][-1])) < 1e-6, (
        f"history['val_acc'][-1] = {history['val_acc'][-1]:.4f} but evaluate_model on the "
        f"validation split after training gives {float(accuracy):.4f}")


@pytest.mark.points(2)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Shuffle with torch.Generator().manual_seed(seed) when a seed is given; "
                  "draw inits and dropout masks from torch so torch.manual_seed fixes them.")
def test_training_is_deterministic_under_a_seed(submission, recording_split):
    """the same seed gives the same history (init, shuffling, dropout); another seed does not"""
    split = recording_split(with_test=False)
    config = {"optimizer": "adam", "lr": 1e-3, "init": "he", "dropout": 0.3}
    runs = [submission.train_config(config, split, 2, seed)[1] for seed in (5, 5, 6)]
    for key in KEYS:
        assert runs[0][key] == runs[1][key], (
            f"two runs with seed 5 gave different history[{key!r}]: {runs[0][key]} vs "
            f"{runs[1][key]}")
    assert runs[0]["train_loss"] != runs[2]["train_loss"], (
        "seeds 5 and 6 gave identical training losses; the seed must change the init and "
        "the shuffling")


@pytest.mark.points(3)
@pytest.mark.time_limit(40)
@pytest.mark.hint("Lists: pick an entry with rng.integers(len(...)); ('uniform', a, b): "
                  "rng.uniform(a, b); ('loguniform', a, b): exp(rng.uniform(log a, log b)); "
                  "('int', a, b): rng.integers(a, b + 1); anything else is kept as is.")
def test_sample_config(submission, fixed):
    """sample_config draws every kind of entry of a search space correctly"""
    rng = fixed("numpy").random.default_rng(0)
    draws = [submission.sample_config(SPACE, rng) for _ in range(300)]
    assert all(isinstance(d, dict) and set(d) == set(SPACE) for d in draws), (
        f"sample_config must return a dict with the keys of the space {sorted(SPACE)}; got "
        f"{draws[0]!r:.150}")
    lr = np.array([float(d["lr"]) for d in draws])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-1, (
        f"'lr' ~ loguniform(1e-4, 1e-1) gave values in [{lr.min():.3g}, {lr.max():.3g}]")
    assert abs(np.log10(lr).mean() + 2.5) < 0.2 and (lr < 10**-3.25).mean() > 0.15, (
        f"'lr' ~ loguniform(1e-4, 1e-1): log10(lr) should be uniform on [-4, -1] (mean -2.5);"
        f" got mean {np.log10(lr).mean():.2f}")
    dropout = np.array([float(d["dropout"]) for d in draws])
    assert dropout.min() >= 0.1 and dropout.max() <= 0.5 and abs(dropout.mean() - 0.3) < 0.03, (
        f"'dropout' ~ uniform(0.1, 0.5) gave mean {dropout.mean():.3f} in "
        f"[{dropout.min():.3f}, {dropout.max():.3f}]")
    for name in ("optimizer", "batch_norm"):
        values = [d[name] for d in draws]
        for option in SPACE[name]:
            share = sum(v == option for v in values) / len(values)
            assert abs(share - 1 / len(SPACE[name])) < 0.1, (
                f"{name!r}: option {option!r} was picked {share:.0%} of the time; each of the "
                f"{len(SPACE[name])} options should be equally likely")
    depths = {d["depth"] for d in draws}
    assert depths == {1, 2, 3} and all(float(d).is_integer() for d in depths), (
        f"'depth' ~ ('int', 1, 3) should give 1, 2 and 3 (both ends included); got "
        f"{sorted(depths)}")
    assert all(d["batch_size"] == 64 for d in draws), "a plain value (batch_size 64) must be " \
                                                      "kept as is"


@pytest.mark.points(4)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Score each trial with the validation accuracy that fit_model records; "
                  "never read split.X_test or split.y_test while searching.")
def test_random_search_never_reads_the_test_split(submission, recording_split):
    """random_search selects on the validation split and never reads the test split"""
    split = recording_split(with_test=True)
    best, trials = submission.random_search(SEARCH_SPACE, 3, seed=0, split=split, epochs=2)
    reads = split.test_reads()
    assert reads == [], _test_reads_message(reads, "random_search")
    read = set(split.accessed())
    assert {"X_val", "y_val"} <= read, (
        f"random_search must score trials on the validation split (it read {sorted(read)})")


@pytest.mark.points(2)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Return (best_config, trials): one trial dict per draw with its config and "
                  "val_acc; the best is the one with the highest val_acc; draw with "
                  "np.random.default_rng(seed).")
def test_random_search_result_and_determinism(submission, recording_split):
    """random_search returns every trial, picks the best one and is reproducible"""
    split = recording_split(with_test=False)
    runs = [submission.random_search(SEARCH_SPACE, 3, seed=seed, split=split, epochs=2)
            for seed in (1, 1, 2)]
    best, trials = runs[0]
    assert isinstance(trials, list) and len(trials) == 3, (
        f"random_search(n_trials=3) must return 3 trials; got {trials!r:.120}")
    for trial in trials:
        config = trial["config"]
        assert config["optimizer"] in SEARCH_SPACE["optimizer"] and 1e-3 <= config["lr"] <= 1e-2, (
            f"a trial's config lies outside the search space: {config!r:.150}")
        assert 0 <= float(trial["val_acc"]) <= 1, f"val_acc must be a fraction; got " \
                                                  f"{trial['val_acc']!r}"
    top = max(float(t["val_acc"]) for t in trials)
    winners = [t["config"] for t in trials if float(t["val_acc"]) == top]
    assert any(all(best.get(k) == v for k, v in w.items()) for w in winners), (
        f"best_config must be the config of the trial with the highest val_acc ({top:.4f}); "
        f"got {best!r:.150}")
    assert len({round(float(t["config"]["lr"]), 12) for t in trials}) == 3, (
        "the 3 trials drew the same learning rate; each trial must draw a new config")
    again = runs[1][1]
    assert [t["config"] for t in again] == [t["config"] for t in trials] and \
        [t["val_acc"] for t in again] == [t["val_acc"] for t in trials], (
            "two searches with seed 1 gave different trials")
    assert [t["config"] for t in runs[2][1]] != [t["config"] for t in trials], (
        "searches with seeds 1 and 2 drew the same configs")


GRADING_SEED = 0
EPOCHS = 100
BEST_CONFIG = {"optimizer": "adam", "lr": 1e-3, "init": "he", "batch_norm": True}
OPTIMIZER_CONFIGS = {
    "sgd": {"optimizer": "sgd", "lr": 0.01, "init": "he"},
    "momentum": {"optimizer": "momentum", "lr": 0.01, "momentum": 0.9, "init": "he"},
    "adagrad": {"optimizer": "adagrad", "lr": 0.01, "init": "he"},
    "adam": {"optimizer": "adam", "lr": 1e-3, "init": "he"},
}


def trained_test_accuracy(submission, fixed, digits, config, epochs=EPOCHS, seed=GRADING_SEED):
    """Train ``config`` in the worker (no test data there); score the test inputs here."""
    split = fixed("data").RecordingSplit(digits.X_train, digits.y_train, digits.X_val,
                                         digits.y_val)
    model, _ = submission.train_config(config, split, epochs, seed)
    model.eval()
    logits = model(torch.as_tensor(digits.X_test))
    assert isinstance(logits, torch.Tensor) and logits.shape == (len(digits.y_test), 10), (
        f"the trained model should map ({len(digits.y_test)}, 64) inputs to "
        f"({len(digits.y_test)}, 10) logits")
    return float((logits.detach().argmax(dim=1).numpy() == digits.y_test).mean())


@pytest.mark.points(8)
@pytest.mark.time_limit(150)
@pytest.mark.hint("This trains Adam (lr 1e-3) + He init + BatchNorm for 100 epochs with your "
                  "train_config / fit_model; check fit_model's loop and BatchNorm1d's eval mode.")
def test_best_configuration_accuracy(submission, fixed, digits, credit, rubric):
    """test accuracy of Adam + He + BatchNorm after 100 epochs (partial credit)"""
    accuracy = trained_test_accuracy(submission, fixed, digits, BEST_CONFIG)
    credit.partial("best_test_accuracy", accuracy, rubric)


@pytest.mark.points(2)
@pytest.mark.time_limit(120)
@pytest.mark.hint("Every optimiser should reach about 0.93 test accuracy in 100 epochs with "
                  "He init; a lower value points at the optimiser's step or at fit_model.")
@pytest.mark.parametrize("name", list(OPTIMIZER_CONFIGS))
def test_optimizer_accuracy(submission, fixed, digits, credit, rubric, name):
    """test accuracy after 100 epochs with each optimiser (partial credit)"""
    accuracy = trained_test_accuracy(submission, fixed, digits, OPTIMIZER_CONFIGS[name])
    credit.partial("optimizer_test_accuracy", accuracy, rubric)
