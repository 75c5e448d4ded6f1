"""Hidden tests of training and evaluation: predict_proba / evaluate_model, the confusion
matrix and the misclassified list; fit_model, determinism, sample_config and random_search;
test accuracy of the submission's own training (partial credit).

Expected values come from the grader (the MLP's weights read back and evaluated here with
torch; sklearn's confusion matrix); feedback shows what the submission returned, never them.
Splits are ``data.RecordingSplit`` objects built in the worker: they record every field the
submission reads, so the grader can check that the test split is never looked at (and, with a
read of its own, that the record still works). Performance runs are put together by the grader
from the student's building blocks (``digits_run``), hold no test data in the worker at all,
and are scored here with the grader's own forward pass of the trained parameters.

PYTEST_DONT_REWRITE: the assertion messages are written for the student as they are.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from digits_run import (
    DEFAULT_CONFIG,
    as_fractions,
    checked_history,
    checked_state,
    grader_logits,
    train_with_student_blocks,
)
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from grading.received import describe, number, returned

N_ROWS = 200
N_PARAMS = 64 * 100 + 100 + 100 * 50 + 50 + 50 * 10 + 10  # MLP(dropout=0.5)


def _as_array(value, what, shape, dtype="float"):
    """What ``what`` returned, checked (an ndarray, or a tensor, of ``shape`` and ``dtype``)."""
    kind = "tensor" if type(value) is torch.Tensor else "ndarray"
    value = returned(value, what, kind=kind, shape=shape, dtype=dtype)
    return value.detach().numpy() if kind == "tensor" else value


@pytest.fixture
def untrained(submission, fixed, digits):
    """An MLP with dropout 0.5 built in the worker, the same network rebuilt here, and data."""
    fixed("torch").manual_seed(0)
    model = submission.MLP(dropout=0.5)
    vector = returned(fixed("torch.nn.utils").parameters_to_vector(model.parameters()),
                      "the parameters of MLP(dropout=0.5)", shape=(N_PARAMS,),
                      dtype=torch.float32).detach()
    here = torch.nn.Sequential(torch.nn.Linear(64, 100), torch.nn.ReLU(),
                               torch.nn.Linear(100, 50), torch.nn.ReLU(),
                               torch.nn.Linear(50, 10))
    torch.nn.utils.vector_to_parameters(vector, here.parameters())
    X, y = digits.X_val[:N_ROWS], digits.y_val[:N_ROWS]
    with torch.no_grad():
        logits = here(torch.as_tensor(X))
    return model, X, y, logits


@pytest.mark.points(2)
@pytest.mark.time_limit(30)
@pytest.mark.hint("Switch to model.eval() and torch.no_grad() (dropout off), apply softmax "
                  "over classes, and put the model back in the mode it was in.")
def test_predict_proba(submission, untrained):
    """predict_proba uses eval mode and is the softmax of the network's output"""
    model, X, _, logits = untrained
    model.train()
    probs = _as_array(submission.predict_proba(model, X), "predict_proba", (N_ROWS, 10))
    expected = torch.softmax(logits, dim=1).numpy()
    again = _as_array(submission.predict_proba(model, X), "predict_proba", (N_ROWS, 10))
    assert np.array_equal(probs, again), (
        "two predict_proba calls on the same model gave different probabilities: dropout is "
        "still active (use model.eval())")
    off = int((np.abs(probs - expected) > 1e-5).sum())
    assert off == 0, (f"predict_proba is not the softmax of the network's output in eval mode "
                      f"({off} of {probs.size} probabilities differ)")
    assert model.training, "predict_proba left the model in eval mode; restore training mode"


def _accuracy(result, what):
    """The accuracy in ``evaluate_model``'s result: a number (a fraction, or a percentage as
    some notebooks print it) or a (loss, accuracy) pair; as a fraction, with its form."""
    if type(result) in (tuple, list) and len(result) == 2:
        return number(result[1], f"{what}'s accuracy"), "(loss, accuracy)"
    if type(result) in (tuple, list):
        raise AssertionError(f"{what} must return the accuracy (or (loss, accuracy)); got "
                             f"{describe(result)}")
    value = number(result, what)
    return (value / 100, "a percentage") if 1 < value <= 100 else (value, "a fraction")


@pytest.mark.points(2)
@pytest.mark.time_limit(30)
@pytest.mark.hint("The original notebook's call evaluate_model(model, test_loader): model.eval() "
                  "and torch.no_grad(), count correct argmax predictions over every batch of the "
                  "DataLoader, divide by the number of samples.")
def test_evaluate_model_on_a_data_loader(submission, fixed, untrained):
    """evaluate_model(model, test_loader) gives the accuracy over a DataLoader in eval mode"""
    model, X, y, logits = untrained
    model.train()
    utils = fixed("torch.utils.data")
    dataset = utils.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    loader = utils.DataLoader(dataset, batch_size=32, shuffle=False)  # the original's batches
    expected = float((logits.argmax(dim=1).numpy() == y).mean())
    results = [_accuracy(submission.evaluate_model(model, loader),
                         "evaluate_model(model, test_loader)") for _ in range(2)]
    (accuracy, form), (again, _) = results
    assert accuracy == again, (
        "two evaluate_model calls on the same model gave different accuracies: dropout is "
        "still active (use model.eval())")
    assert 0 <= accuracy <= 1, f"the accuracy must be a fraction in [0, 1]; got {accuracy!r}"
    assert abs(accuracy - expected) < 1e-6, (
        f"evaluate_model(model, test_loader) returned {accuracy:.4f} (read as {form}), not the "
        f"fraction of correct argmax predictions over all {len(y)} samples of the DataLoader "
        f"({len(y) % 32} in its last batch) in eval mode")
    # (leaving the model in eval mode is not graded here: the original's fit_model calls
    # model.train() at the start of every epoch)


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
        got = _as_array(submission.confusion_matrix(a, b, num_classes=k), "confusion_matrix",
                        (k, k), dtype="int")
        expected = sk_confusion_matrix(a, b, labels=np.arange(k))
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
    assert type(samples) is list and len(samples) <= len(y), (
        f"misclassified_samples must return a list of at most {len(y)} dicts (one per wrong "
        f"prediction); got {describe(samples)}")
    for sample in samples:
        assert type(sample) is dict and {"index", "true", "pred", "prob"} <= set(sample), (
            f"each item must be a dict with index, true, pred, prob; got {describe(sample)}")
    indices = [int(number(s["index"], "a sample's index")) for s in samples]
    assert indices == wrong.tolist(), (
        f"you listed {len(indices)} misclassified samples (first indices {indices[:5]}); list "
        f"every sample whose predicted class (argmax of predict_proba) differs from its label, "
        f"in index order")
    for s in samples:
        i = int(s["index"])
        true, pred_i = number(s["true"], "true"), number(s["pred"], "pred")
        assert true == y[i] and pred_i == pred[i], (
            f"sample {i}: you gave true {true:g} and pred {pred_i:g}; true is its label, pred "
            f"the argmax of predict_proba")
        prob = number(s["prob"], "prob")
        assert abs(prob - probs[i, pred[i]]) < 1e-5, (
            f"sample {i}: prob should be the probability of the predicted class; you gave "
            f"{prob:.4f}")


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
    """fit_model's history, checked (see digits_run.checked_history)."""
    return checked_history(history, epochs)


def _test_reads_message(reads, what):
    return (f"{what} read the test split ({', '.join(reads)}); training and model selection "
            "may use only X_train, y_train, X_val and y_val")


def _names(value, what) -> list[str]:
    """A list of field names from the worker's split (its record of reads), checked."""
    if type(value) is not list or len(value) > 100_000 or not all(type(name) is str
                                                                  for name in value):
        raise AssertionError(f"the split's record of reads was tampered with while {what} ran "
                             f"(it gave {describe(value)})")
    return value


def _reads(split, what) -> tuple[set[str], list[str]]:
    """(the fields read, the test fields read) by ``what``, from the worker's split, after
    checking that its record still works: the grader reads ``X_test`` itself, which must show
    up (a record that stays empty whatever is read would hide the submission's reads)."""
    read = set(_names(split.accessed(), what))
    reads = _names(split.test_reads(), what)
    split.X_test  # noqa: B018 - the grader's own read
    log = _names(split.accessed(), what)
    if not log or log[-1] != "X_test" or "X_test" not in _names(split.test_reads(), what):
        raise AssertionError(f"the split's record of reads was tampered with while {what} "
                             "ran: it no longer records the reads of the test split")
    return read, reads


@pytest.mark.points(4)
@pytest.mark.time_limit(60)
@pytest.mark.slow_hint("fit_model should loop over mini-batches of the given batch_size (one "
                       "forward, backward and step per batch) and evaluate the validation split "
                       "once per epoch; a loop over single samples, or evaluating after every "
                       "batch, is what usually makes it slow.")
@pytest.mark.hint("Each epoch: model.train(), shuffle, loop over mini-batches (zero_grad, "
                  "forward, loss, backward, step), then evaluate_model on the validation "
                  "split; read only split.X_train, y_train, X_val, y_val.")
def test_fit_model_history(submission, fixed, digits, recording_split):
    """fit_model trains, returns the per-epoch history and never reads the test split"""
    split = recording_split(with_test=True)
    torch_remote, nn_remote = fixed("torch"), fixed("torch.nn")
    torch_remote.manual_seed(0)
    # torch's own layers, init and Adam: this test depends on fit_model only
    model = nn_remote.Sequential(nn_remote.Linear(64, 100), nn_remote.ReLU(),
                                 nn_remote.Linear(100, 50), nn_remote.ReLU(),
                                 nn_remote.Linear(50, 10))
    optimizer = torch_remote.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn_remote.CrossEntropyLoss()
    history = _check_history(submission.fit_model(model, loss_fn, optimizer, 8, split,
                                                  batch_size=64, seed=0), 8)
    read, reads = _reads(split, "fit_model")
    assert reads == [], _test_reads_message(reads, "fit_model")
    assert {"X_train", "y_train", "X_val", "y_val"} <= read, (
        f"fit_model must train on split.X_train / y_train and validate on split.X_val / y_val "
        f"(it read only {sorted(read) or 'nothing'})")
    assert history["val_acc"][-1] > 0.85, (
        f"after 8 epochs of Adam (lr 1e-3) validation accuracy should exceed 0.85; "
        f"got {history['val_acc'][-1]:.3f}")
    assert history["train_loss"][-1] < history["train_loss"][0], "the training loss did not " \
                                                                 "decrease"
    trained = checked_state(model.state_dict(), {**DEFAULT_CONFIG})
    logits = torch.as_tensor(grader_logits(trained, DEFAULT_CONFIG, digits.X_val))
    accuracy = float((logits.argmax(dim=1).numpy() == digits.y_val).mean())
    loss = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(digits.y_val)))
    assert abs(accuracy - history["val_acc"][-1]) < 1e-6, (
        f"the history's last val_accuracies is {history['val_acc'][-1]:.4f}, not the accuracy "
        f"of the trained network on the validation split in eval mode")
    # 10%: a mean of batch means (the original's val_loss / len(val_loader)) is accepted
    assert abs(loss - history["val_loss"][-1]) < 0.1 * loss, (
        f"the history's last val_losses is {history['val_loss'][-1]:.4f}, not the mean "
        f"cross-entropy of the trained network on the validation split in eval mode")


@pytest.mark.points(2)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Shuffle with torch.Generator().manual_seed(seed) when a seed is given; "
                  "draw inits and dropout masks from torch so torch.manual_seed fixes them.")
def test_training_is_deterministic_under_a_seed(submission, recording_split):
    """the same seed gives the same history (init, shuffling, dropout); another seed does not"""
    split = recording_split(with_test=False)
    config = {"optimizer": "adam", "lr": 1e-3, "init": "he", "dropout": 0.3}
    runs = [_check_history(_second(submission.train_config(config, split, 2, seed),
                                   "train_config"), 2) for seed in (5, 5, 6)]
    for key in KEYS:
        assert runs[0][key] == runs[1][key], (
            f"two runs with seed 5 gave different history[{key!r}]: {runs[0][key]} vs "
            f"{runs[1][key]}")
    assert runs[0]["train_loss"] != runs[2]["train_loss"], (
        "seeds 5 and 6 gave identical training losses; the seed must change the init and "
        "the shuffling")


def _scalar(value, what):
    """A config entry from the worker: a str, bool, int or float (or numpy scalar), never an
    array (comparing arrays would broadcast)."""
    if type(value) in (str, bool, int, float) or (isinstance(value, np.generic)
                                                  and type(value).__module__ == "numpy"):
        return value
    raise AssertionError(f"{what} must be a single value (a string, a number or a bool); got "
                         f"{describe(value)}")


def _config(value, what):
    """A config dict from the worker, its entries checked with :func:`_scalar`."""
    if type(value) is not dict or len(value) > 20:
        raise AssertionError(f"{what} must be a dict of settings; got {describe(value)}")
    return {key: _scalar(entry, f"{what}[{key!r}]") for key, entry in value.items()}


def _second(result, what):
    """The second item of a (model, history) / (best, trials) pair from the worker."""
    if type(result) not in (tuple, list) or len(result) != 2:
        raise AssertionError(f"{what} must return a pair; got {describe(result)}")
    return result[1]


@pytest.mark.points(3)
@pytest.mark.time_limit(40)
@pytest.mark.hint("Lists: pick an entry with rng.integers(len(...)); ('uniform', a, b): "
                  "rng.uniform(a, b); ('loguniform', a, b): exp(rng.uniform(log a, log b)); "
                  "('int', a, b): rng.integers(a, b + 1); anything else is kept as is.")
def test_sample_config(submission, fixed):
    """sample_config draws every kind of entry of a search space correctly"""
    rng = fixed("numpy").random.default_rng(0)
    draws = [_config(submission.sample_config(SPACE, rng), "sample_config's result")
             for _ in range(300)]
    for d in draws:
        assert set(d) == set(SPACE), (
            f"sample_config must return a dict with the keys of the space {sorted(SPACE)}; got "
            f"{sorted(map(str, d))}")
    lr = np.array([number(d["lr"], "'lr'") for d in draws])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-1, (
        f"'lr' ~ loguniform(1e-4, 1e-1) gave values in [{lr.min():.3g}, {lr.max():.3g}]")
    assert abs(np.log10(lr).mean() + 2.5) < 0.2 and (lr < 10**-3.25).mean() > 0.15, (
        f"'lr' ~ loguniform(1e-4, 1e-1): log10(lr) should be uniform on [-4, -1] (mean -2.5);"
        f" got mean {np.log10(lr).mean():.2f}")
    dropout = np.array([number(d["dropout"], "'dropout'") for d in draws])
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
    depths = {number(d["depth"], "'depth'") for d in draws}
    assert depths == {1, 2, 3}, (
        f"'depth' ~ ('int', 1, 3) should give 1, 2 and 3 (both ends included); got "
        f"{sorted(depths)}")
    assert all(type(d["batch_size"]) is int and d["batch_size"] == 64 for d in draws), (
        "a plain value (batch_size 64) must be kept as is")


@pytest.mark.points(4)
@pytest.mark.time_limit(60)
@pytest.mark.slow_hint("fit_model should loop over mini-batches of the given batch_size (one "
                       "forward, backward and step per batch) and evaluate the validation split "
                       "once per epoch; a loop over single samples, or evaluating after every "
                       "batch, is what usually makes it slow.")
@pytest.mark.hint("Score each trial with the validation accuracy that fit_model records; "
                  "never read split.X_test or split.y_test while searching.")
def test_random_search_never_reads_the_test_split(submission, recording_split):
    """random_search selects on the validation split and never reads the test split"""
    split = recording_split(with_test=True)
    submission.random_search(SEARCH_SPACE, 3, seed=0, split=split, epochs=2)
    read, reads = _reads(split, "random_search")
    assert reads == [], _test_reads_message(reads, "random_search")
    assert {"X_val", "y_val"} <= read, (
        f"random_search must score trials on the validation split (it read {sorted(read)})")


@pytest.mark.points(2)
@pytest.mark.time_limit(60)
@pytest.mark.slow_hint("fit_model should loop over mini-batches of the given batch_size (one "
                       "forward, backward and step per batch) and evaluate the validation split "
                       "once per epoch; a loop over single samples, or evaluating after every "
                       "batch, is what usually makes it slow.")
@pytest.mark.hint("Return (best_config, trials): one trial dict per draw with its config and "
                  "val_acc; the best is the one with the highest val_acc; draw with "
                  "np.random.default_rng(seed).")
def test_random_search_result_and_determinism(submission, recording_split):
    """random_search returns every trial, picks the best one and is reproducible"""
    split = recording_split(with_test=False)
    runs = [_search_result(submission.random_search(SEARCH_SPACE, 3, seed=seed, split=split,
                                                    epochs=2)) for seed in (1, 1, 2)]
    best, trials = runs[0]
    for trial in trials:
        config = trial["config"]
        assert config.get("optimizer") in SEARCH_SPACE["optimizer"] and \
            1e-3 <= number(config.get("lr"), "a trial's lr") <= 1e-2, (
                f"a trial's config lies outside the search space: {config!r:.150}")
    top = max(t["val_acc"] for t in trials)
    winners = [t["config"] for t in trials if t["val_acc"] == top]
    assert any(all(best.get(k) == v for k, v in w.items()) for w in winners), (
        f"best_config must be the config of the trial with the highest val_acc ({top:.4f}); "
        f"got {best!r:.150}")
    assert len({round(number(t["config"]["lr"], "lr"), 12) for t in trials}) == 3, (
        "the 3 trials drew the same learning rate; each trial must draw a new config")
    again = runs[1][1]
    assert [t["config"] for t in again] == [t["config"] for t in trials] and \
        [t["val_acc"] for t in again] == [t["val_acc"] for t in trials], (
            "two searches with seed 1 gave different trials")
    assert [t["config"] for t in runs[2][1]] != [t["config"] for t in trials], (
        "searches with seeds 1 and 2 drew the same configs")


def _search_result(result):
    """random_search's (best_config, trials), checked: a dict and a list of 3 trials, each a
    dict with a config dict and a val_acc fraction (made a float)."""
    if type(result) not in (tuple, list) or len(result) != 2:
        raise AssertionError(f"random_search must return (best_config, trials); got "
                             f"{describe(result)}")
    best, trials = result
    best = _config(best, "best_config")
    assert type(trials) is list and len(trials) == 3, (
        f"random_search(n_trials=3) must return 3 trials; got {describe(trials)}")
    checked = []
    for trial in trials:
        assert type(trial) is dict and type(trial.get("config")) is dict, (
            f"each trial must be a dict with a 'config' dict and its 'val_acc'; got "
            f"{describe(trial)}")
        checked.append({"config": _config(trial["config"], "a trial's config"),
                        "val_acc": number(trial.get("val_acc"), "a trial's val_acc")})
    for trial, val_acc in zip(checked, as_fractions([t["val_acc"] for t in checked]),
                              strict=True):
        assert 0 <= val_acc <= 1, f"val_acc must be a fraction; got {trial['val_acc']!r}"
        trial["val_acc"] = val_acc
    return best, checked


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
    """Train ``config`` with the student's building blocks, put together here (no test data in
    the worker); score the test inputs with the grader's own forward pass."""
    split = fixed("data").RecordingSplit(digits.X_train, digits.y_train, digits.X_val,
                                         digits.y_val)
    trained = train_with_student_blocks(submission, fixed, split, config, epochs, seed)
    return trained.accuracy(digits.X_test, digits.y_test)


@pytest.mark.points(8)
@pytest.mark.time_limit(150)
@pytest.mark.slow_hint("These runs train 100 epochs through your blocks: a Python loop over "
                       "samples (instead of whole mini-batches) in BatchNorm1d, Dropout or the "
                       "optimiser's step, or recomputing over the whole training set every "
                       "batch, is what usually makes them slow.")
@pytest.mark.hint("This trains Adam (lr 1e-3) + He init + BatchNorm for 100 epochs with your "
                  "train_config / fit_model; check fit_model's loop and BatchNorm1d's eval mode.")
def test_best_configuration_accuracy(submission, fixed, digits, credit, rubric):
    """test accuracy of Adam + He + BatchNorm after 100 epochs (partial credit)"""
    accuracy = trained_test_accuracy(submission, fixed, digits, BEST_CONFIG)
    credit.partial("best_test_accuracy", accuracy, rubric)


@pytest.mark.points(2)
@pytest.mark.time_limit(120)
@pytest.mark.slow_hint("These runs train 100 epochs through your blocks: a Python loop over "
                       "samples (instead of whole mini-batches) in BatchNorm1d, Dropout or the "
                       "optimiser's step, or recomputing over the whole training set every "
                       "batch, is what usually makes them slow.")
@pytest.mark.hint("Every optimiser should reach about 0.93 test accuracy in 100 epochs with "
                  "He init; a lower value points at the optimiser's step or at fit_model.")
@pytest.mark.parametrize("name", list(OPTIMIZER_CONFIGS))
def test_optimizer_accuracy(submission, fixed, digits, credit, rubric, name):
    """test accuracy after 100 epochs with each optimiser (partial credit)"""
    accuracy = trained_test_accuracy(submission, fixed, digits, OPTIMIZER_CONFIGS[name])
    credit.partial("optimizer_test_accuracy", accuracy, rubric)
