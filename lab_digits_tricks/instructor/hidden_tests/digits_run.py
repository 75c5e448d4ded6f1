"""The performance runs of lab_digits_tricks, put together by the grader (trusted code).

``train_config`` (given code in the student's file) builds the MLP, initialises it, builds the
optimiser and calls ``fit_model``; a submission can change it to train longer, on more data, with
torch's optimisers, or hand back a "model" that is not the network at all (a nearest-neighbour
lookup of the training digits). So the grader does ``train_config``'s work itself, through the
proxy, calling only the student's building blocks: after ``torch.manual_seed(seed)`` in the
worker it builds the handout's network (torch's ``Linear`` and ``ReLU`` with the student's
``BatchNorm1d`` and ``Dropout``, in ``MLP``'s order, so the same random draws), applies the
student's initialisation, builds the student's optimiser and calls the student's ``fit_model``.
It then reads the trained parameters and running statistics back (every key, shape and dtype
checked, finite) and computes the test logits here with its own forward pass: the worker never
sees the test inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from grading.received import describe, number, returned

# train_config's defaults (the given DEFAULT_CONFIG; tests/lab_digits_tricks checks they agree)
DEFAULT_CONFIG = {"optimizer": "adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0,
                  "init": "he", "batch_norm": False, "dropout": 0.0, "batch_size": 64}
HIDDEN, IN_FEATURES, CLASSES = (100, 50), 64, 10
INITS = {"uniform": "init_uniform", "xavier": "init_xavier", "he": "init_he"}
HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")
# the original notebook's history keys -> the short names that this lab also accepts
ORIGINAL_KEYS = {"train_losses": "train_loss", "train_accuracies": "train_acc",
                 "val_losses": "val_loss", "val_accuracies": "val_acc"}
BN_EPS = 1e-5  # the handout's BatchNorm1d default


def layer_plan(config: dict) -> list[tuple[str, int]]:
    """MLP's layers for ``config``: ("linear", out) / ("batch_norm", n) / ("relu", 0) /
    ("dropout", 0), in order (their index is their key in the state dict)."""
    plan = []
    for size in HIDDEN:
        plan.append(("linear", size))
        if config["batch_norm"]:
            plan.append(("batch_norm", size))
        plan.append(("relu", 0))
        if config["dropout"] > 0:
            plan.append(("dropout", 0))
    plan.append(("linear", CLASSES))
    return plan


def expected_state(config: dict) -> dict[str, tuple[int, ...]]:
    """The state-dict keys of the network of ``config`` and their shapes."""
    shapes, width = {}, IN_FEATURES
    for i, (kind, size) in enumerate(layer_plan(config)):
        if kind == "linear":
            shapes[f"{i}.weight"], shapes[f"{i}.bias"] = (size, width), (size,)
            width = size
        elif kind == "batch_norm":
            for name in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{i}.{name}"] = (size,)
    return shapes


def checked_state(value, config: dict) -> dict[str, torch.Tensor]:
    """The trained network's state dict from the worker: exactly the keys of
    :func:`expected_state`, each a finite float32 tensor of its shape."""
    shapes = expected_state(config)
    if not isinstance(value, dict) or set(value) != set(shapes):  # (an OrderedDict in process)
        got = sorted(map(str, value))[:12] if isinstance(value, dict) else describe(value)
        raise AssertionError(f"the trained network's state dict must hold exactly "
                             f"{sorted(shapes)} (Linear weights and biases, BatchNorm1d weight, "
                             f"bias, running_mean and running_var); it holds {got}. Keep the "
                             f"handout's BatchNorm1d parameters and buffers.")
    return {key: returned(value[key], f"the trained network's {key}", shape=shape,
                          dtype=torch.float32).detach() for key, shape in shapes.items()}


def grader_logits(state: dict[str, torch.Tensor], config: dict, X: np.ndarray) -> np.ndarray:
    """Logits (N, 10) of the trained network on X (N, 64), in eval mode, computed here."""
    h = torch.as_tensor(np.asarray(X, dtype=np.float32))
    with torch.no_grad():
        for i, (kind, _) in enumerate(layer_plan(config)):
            if kind == "linear":
                h = h @ state[f"{i}.weight"].T + state[f"{i}.bias"]
            elif kind == "batch_norm":
                h = (h - state[f"{i}.running_mean"]) / torch.sqrt(
                    state[f"{i}.running_var"] + BN_EPS) * state[f"{i}.weight"] + \
                    state[f"{i}.bias"]
            elif kind == "relu":
                h = torch.relu(h)
    return h.double().numpy()


def checked_history(history, epochs: int) -> dict[str, list[float]]:
    """fit_model's history: a dict with lists of ``epochs`` finite numbers per key (accuracies
    in [0, 1], or percentages, see :func:`as_fractions`), as floats, under the short keys.
    The original notebook's keys (``train_losses``, ``train_accuracies``, ``val_losses``,
    ``val_accuracies``) are read first; our short keys (``train_loss``, ...) are accepted in
    their place."""
    if type(history) is not dict:
        raise AssertionError(f"fit_model must return a dict; got {describe(history)}")
    missing = [f"{original!r} (or {short!r})" for original, short in ORIGINAL_KEYS.items()
               if original not in history and short not in history]
    if missing:
        raise AssertionError(f"the history has no {', '.join(missing)} (keys: "
                             f"{sorted(map(str, history))[:10]})")
    out = {}
    for original, key in ORIGINAL_KEYS.items():
        name = original if original in history else key
        values = history[name]
        if type(values) not in (list, tuple) or len(values) != epochs:
            got = f"{len(values)} values" if type(values) in (list, tuple) else describe(values)
            raise AssertionError(f"history[{name!r}] must be a list with one value per epoch "
                                 f"({epochs}); got {got}")
        out[key] = [number(v, f"history[{name!r}]") for v in values]
    for key in ("train_acc", "val_acc"):
        out[key] = as_fractions(out[key])
        if not all(0 <= v <= 1 for v in out[key]):
            raise AssertionError(f"the history's {key.replace('acc', 'accuracies')} must be "
                                 f"fractions in [0, 1] (divide a percentage by 100); got "
                                 f"{out[key][:3]}")
    return out


def as_fractions(values: list[float]) -> list[float]:
    """Accuracies as fractions: a list whose largest value lies in (1, 100] is read as
    percentages (as some notebooks record them) and divided by 100; others are kept."""
    if values and 1 < max(values) <= 100 and min(values) >= 0:
        return [v / 100 for v in values]
    return values


@dataclass
class Trained:
    """A network the student's code trained, read back and checked."""

    state: dict[str, torch.Tensor]
    history: dict[str, list[float]]
    config: dict

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        logits = grader_logits(self.state, self.config, X)
        return float((logits.argmax(axis=1) == np.asarray(y)).mean())


def train_with_student_blocks(submission, fixed, split, config: dict, epochs: int, seed: int
                              ) -> Trained:
    """``train_config(config, split, epochs, seed)``'s work, done from the grader (see the
    module doc). ``split`` is a worker-side split object (train and validation data only)."""
    config = {**DEFAULT_CONFIG, **config}
    torch_w, nn_w = fixed("torch"), fixed("torch.nn")
    torch_w.manual_seed(seed)
    layers, width = [], IN_FEATURES
    for kind, size in layer_plan(config):
        if kind == "linear":
            layers.append(nn_w.Linear(width, size))
            width = size
        elif kind == "batch_norm":
            layers.append(submission.BatchNorm1d(size))
        elif kind == "relu":
            layers.append(nn_w.ReLU())
        else:
            layers.append(submission.Dropout(float(config["dropout"])))
    model = nn_w.Sequential(*layers)
    model.apply(getattr(submission, INITS[config["init"]]))
    name, lr, wd = config["optimizer"], float(config["lr"]), float(config["weight_decay"])
    if name == "sgd":
        optimizer = submission.SGD(model.parameters(), lr=lr, weight_decay=wd)
    elif name in ("momentum", "nesterov"):
        optimizer = submission.SGD(model.parameters(), lr=lr,
                                   momentum=float(config["momentum"]), weight_decay=wd,
                                   nesterov=name == "nesterov")
    elif name == "adagrad":
        optimizer = submission.AdaGrad(model.parameters(), lr=lr, weight_decay=wd)
    else:
        optimizer = submission.Adam(model.parameters(), lr=lr, weight_decay=wd)
    history = submission.fit_model(model, nn_w.CrossEntropyLoss(), optimizer, epochs, split,
                                   batch_size=int(config["batch_size"]), seed=seed)
    return Trained(checked_state(model.state_dict(), config), checked_history(history, epochs),
                   config)
