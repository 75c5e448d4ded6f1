"""Lab: training tricks for a 64-100-50-10 MLP on sklearn's 8x8 digits.

Write, from scratch, the initialisations, the optimisers SGD / AdaGrad / Adam, BatchNorm1d and
inverted Dropout, then the training loop, the evaluation and a random search on the validation
split. Inside this file do not use ``torch.optim.SGD/Adagrad/Adam``, ``torch.nn.init``,
``nn.BatchNorm1d``, ``nn.Dropout`` or their functional forms: the grader checks.
"""

import math

import numpy as np
import torch
from torch import nn

from common.data import load_digits_split

# ---------------------------------------------------------------- initialisations


def init_uniform(module, low=-0.1, high=0.1):
    """Weights of an ``nn.Linear`` ~ U(low, high), its bias 0; other modules are left alone.

    Use it as ``model.apply(init_uniform)``; draw from torch's random generator (so that
    ``torch.manual_seed`` makes it reproducible).
    """
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: init_uniform")
    # ===== END OF YOUR CODE =====


def init_xavier(module):
    """Xavier (Glorot) uniform: weights of an ``nn.Linear`` ~ U(-a, a) with
    ``a = sqrt(6 / (fan_in + fan_out))``, bias 0; other modules are left alone.

    An ``nn.Linear(fan_in, fan_out)`` has ``weight`` of shape (fan_out, fan_in).
    """
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: init_xavier")
    # ===== END OF YOUR CODE =====


def init_he(module):
    """He (Kaiming) uniform for ReLU: weights of an ``nn.Linear`` ~ U(-a, a) with
    ``a = sqrt(6 / fan_in)`` (variance 2 / fan_in), bias 0; other modules are left alone."""
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: init_he")
    # ===== END OF YOUR CODE =====


INITS = {"uniform": init_uniform, "xavier": init_xavier, "he": init_he}

# ---------------------------------------------------------------- optimisers


def _check_hyper(name, value, low=0.0):
    if not isinstance(value, int | float) or isinstance(value, bool) or not value >= low:
        raise ValueError(f"{name} must be a number >= {low}; received {value!r}.")


class SGD(torch.optim.Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay.

    The update rule and defaults of ``torch.optim.SGD``: ``g = grad + weight_decay * p``;
    with momentum, ``buf = g`` on the first step (no dampening) and
    ``buf = momentum * buf + (1 - dampening) * g`` after; the step direction is ``buf``, or
    ``g + momentum * buf`` with Nesterov; ``p = p - lr * direction``.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        for name, value in (("lr", lr), ("momentum", momentum), ("dampening", dampening),
                            ("weight_decay", weight_decay)):
            _check_hyper(name, value)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"Nesterov momentum needs momentum > 0 and dampening 0; received "
                             f"momentum={momentum}, dampening={dampening}.")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a ``.grad``; returns ``closure()`` if given.

        Keep per-parameter state (the momentum buffer) in ``self.state[p]``; read the
        hyperparameters from each of ``self.param_groups``; skip parameters whose grad is None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # ===== START OF YOUR CODE =====
        raise NotImplementedError("lab_digits_tricks: SGD.step")
        # ===== END OF YOUR CODE =====
        return loss


class AdaGrad(torch.optim.Optimizer):
    """AdaGrad with the update rule and defaults of ``torch.optim.Adagrad``.

    At step t (1, 2, ...): ``g = grad + weight_decay * p``;
    ``clr = lr / (1 + (t - 1) * lr_decay)``; ``sum = sum + g * g`` (``sum`` starts at
    ``initial_accumulator_value``); ``p = p - clr * g / (sqrt(sum) + eps)``.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
        for name, value in (("lr", lr), ("lr_decay", lr_decay), ("weight_decay", weight_decay),
                            ("initial_accumulator_value", initial_accumulator_value),
                            ("eps", eps)):
            _check_hyper(name, value)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One AdaGrad update (see the class docstring); returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # ===== START OF YOUR CODE =====
        raise NotImplementedError("lab_digits_tricks: AdaGrad.step")
        # ===== END OF YOUR CODE =====
        return loss


class Adam(torch.optim.Optimizer):
    """Adam (L2 weight decay added to the gradient, optional AMSGrad), as ``torch.optim.Adam``.

    At step t: ``g = grad + weight_decay * p``; ``m = beta1 * m + (1 - beta1) * g``;
    ``v = beta2 * v + (1 - beta2) * g * g`` (m, v start at 0); with AMSGrad
    ``v_max = max(v_max, v)`` replaces v below;
    ``p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        for name, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
            _check_hyper(name, value)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1); received {betas!r}.")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One Adam update (see the class docstring); returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # ===== START OF YOUR CODE =====
        raise NotImplementedError("lab_digits_tricks: Adam.step")
        # ===== END OF YOUR CODE =====
        return loss


# ---------------------------------------------------------------- layers


class BatchNorm1d(nn.Module):
    """Batch Normalization of inputs of shape (N, C), as ``nn.BatchNorm1d``.

    Training: normalise with the batch mean and the *biased* batch variance, then update
    ``running_mean`` and ``running_var`` (the latter with the *unbiased* variance) as
    ``running = (1 - momentum) * running + momentum * batch_statistic``.
    Eval: normalise with the running statistics and leave them unchanged.
    Output: ``weight * (x - mean) / sqrt(var + eps) + bias``.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        """x : Tensor of shape (N, C) -> Tensor of shape (N, C)."""
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}) expects input of shape "
                             f"(N, {self.num_features}); received {tuple(x.shape)}.")
        if self.training and x.shape[0] < 2:
            raise ValueError("BatchNorm1d in training mode needs a batch of at least 2 rows; "
                             f"received {x.shape[0]}. Use a larger batch or model.eval().")
        # ===== START OF YOUR CODE =====
        raise NotImplementedError("lab_digits_tricks: BatchNorm1d.forward")
        # ===== END OF YOUR CODE =====


class Dropout(nn.Module):
    """Inverted dropout: in training, zero each entry with probability ``p`` and scale the
    kept ones by ``1 / (1 - p)`` (so the expected output equals the input); in eval, the
    identity. Draw the mask from torch's random generator."""

    def __init__(self, p=0.5):
        super().__init__()
        if not isinstance(p, int | float) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p must be in [0, 1]; received {p!r}.")
        self.p = float(p)

    def forward(self, x):
        """x : Tensor of any shape -> Tensor of the same shape."""
        # ===== START OF YOUR CODE =====
        raise NotImplementedError("lab_digits_tricks: Dropout.forward")
        # ===== END OF YOUR CODE =====


# ---------------------------------------------------------------- the network (given)


class MLP(nn.Module):
    """64-100-50-10 ReLU network; optional BatchNorm1d after each hidden Linear and Dropout
    after each hidden ReLU. Input (N, 64) float32, output logits (N, 10)."""

    def __init__(self, hidden=(100, 50), batch_norm=False, dropout=0.0, in_features=64,
                 num_classes=10):
        super().__init__()
        layers, width = [], in_features
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(BatchNorm1d(size))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adam")
DEFAULT_CONFIG = {"optimizer": "adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0,
                  "init": "he", "batch_norm": False, "dropout": 0.0, "batch_size": 64}


def make_model(config):
    """The MLP of ``config`` (keys of DEFAULT_CONFIG), initialised with ``config["init"]``."""
    config = {**DEFAULT_CONFIG, **config}
    if config["init"] not in INITS:
        raise ValueError(f"init must be one of {sorted(INITS)}; received {config['init']!r}.")
    model = MLP(batch_norm=bool(config["batch_norm"]), dropout=float(config["dropout"]))
    model.apply(INITS[config["init"]])
    return model


def make_optimizer(config, model):
    """The optimiser of ``config``: sgd, momentum / nesterov (SGD with momentum), adagrad, adam."""
    config = {**DEFAULT_CONFIG, **config}
    name, lr, wd = config["optimizer"], float(config["lr"]), float(config["weight_decay"])
    params = model.parameters()
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=wd)
    if name in ("momentum", "nesterov"):
        return SGD(params, lr=lr, momentum=float(config["momentum"]), weight_decay=wd,
                   nesterov=name == "nesterov")
    if name == "adagrad":
        return AdaGrad(params, lr=lr, weight_decay=wd)
    if name == "adam":
        return Adam(params, lr=lr, weight_decay=wd)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; received {name!r}.")


def train_config(config, split=None, epochs=100, seed=0):
    """Seed torch, build model and optimiser from ``config``, ``fit_model``; -> (model, history),
    the history with both key sets (``with_short_keys``)."""
    config = {**DEFAULT_CONFIG, **config}
    torch.manual_seed(seed)
    model = make_model(config)
    optimizer = make_optimizer(config, model)
    history = fit_model(model, nn.CrossEntropyLoss(), optimizer, epochs, split,
                        batch_size=int(config["batch_size"]), seed=seed)
    return model, with_short_keys(history)


# ---------------------------------------------------------------- training and evaluation


def _as_tensors(X, y=None):
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    return X if y is None else (X, torch.as_tensor(np.asarray(y), dtype=torch.int64))


# the original notebook's history keys and the short names this lab also accepts
HISTORY_KEYS = {"train_losses": "train_loss", "train_accuracies": "train_acc",
                "val_losses": "val_loss", "val_accuracies": "val_acc"}


def with_short_keys(history):
    """``history`` with both key sets: each of the original keys (``train_losses``, ...) and
    its short alias (``train_loss``, ...) name the same list. A history with either set is
    completed with the other; one without either raises a ValueError naming what it has."""
    if not isinstance(history, dict):
        raise ValueError(f"a training history must be a dict; received "
                         f"{type(history).__name__}.")
    history = dict(history)
    for original, short in HISTORY_KEYS.items():
        if original not in history and short not in history:
            raise ValueError(f"the history has neither {original!r} nor {short!r} (its keys: "
                             f"{sorted(map(str, history))}); fit_model must return the four "
                             f"lists {', '.join(HISTORY_KEYS)}.")
        history.setdefault(original, history.get(short))
        history.setdefault(short, history[original])
    return history


def data_loader(X, y, batch_size=32):
    """The arrays X (N, 64) and y (N,) as the original notebook's ``DataLoader`` of
    ``(inputs, labels)`` batches (float32 (B, 64), int64 (B,)), in order, ``batch_size`` rows."""
    X, y = _as_tensors(X, y)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y),
                                       batch_size=batch_size, shuffle=False)


def fit_model(model, loss_fn, optimizer, epochs, split=None, batch_size=64, seed=None):
    """Train ``model`` for ``epochs`` passes over ``split.X_train`` in shuffled mini-batches.

    Parameters
    ----------
    model : nn.Module mapping (B, 64) float32 to logits (B, 10)
    loss_fn : e.g. ``nn.CrossEntropyLoss()`` (mean over the batch)
    optimizer : an optimiser over ``model.parameters()``
    epochs : int >= 1
    split : object with ``X_train`` (N, 64), ``y_train`` (N,), ``X_val``, ``y_val`` (numpy
        arrays); default ``load_digits_split()``. Read only these four: never the test split.
    batch_size : int, mini-batch size (the last batch may be smaller)
    seed : int or None; when given, the shuffling order comes from
        ``torch.Generator().manual_seed(seed)``, else from torch's global generator.

    Returns
    -------
    history : dict with lists of ``epochs`` floats each, under the original notebook's keys:
        ``train_losses`` and ``train_accuracies`` (the mean over the epoch's mini-batches,
        weighted by their size, in training mode) and ``val_losses`` and ``val_accuracies``
        (the loss and accuracy of ``evaluate_model`` on the validation split after the epoch).
        Our short keys ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` may be added as
        aliases of the same lists (``with_short_keys`` does it); a history with only the
        original keys is complete.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer; received {epochs!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; received {batch_size!r}.")
    split = load_digits_split() if split is None else split
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: fit_model")
    # ===== END OF YOUR CODE =====


def predict_proba(model, X):
    """Class probabilities of ``model`` in eval mode (the model's mode is restored after).

    X : ndarray of shape (N, 64) -> ndarray of shape (N, 10), float32, rows summing to 1.
    """
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: predict_proba")
    # ===== END OF YOUR CODE =====


def evaluate_model(model, data, y=None, loss_fn=None):
    """Accuracy of ``model`` in eval mode, without gradients (the model's mode is restored).

    Two ways to call it:

    * the original notebook's ``evaluate_model(model, test_loader)``: ``data`` is a
      ``DataLoader`` (any iterable) of ``(inputs, labels)`` batches, inputs (B, 64), labels (B,);
    * ``evaluate_model(model, X, y, loss_fn)``: X ndarray of shape (N, 64), y of shape (N,).

    Returns the accuracy (a float in [0, 1]); with ``loss_fn`` given, ``(loss, accuracy)``,
    the loss being the mean over all samples (batches weighted by their size).
    """
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: evaluate_model")
    # ===== END OF YOUR CODE =====


def confusion_matrix(y_true, y_pred, num_classes=10):
    """Counts ``C[i, j]`` of samples of true class i predicted as class j (sklearn's layout).

    y_true, y_pred : int arrays of shape (N,) with values in 0..num_classes-1
    -> ndarray of shape (num_classes, num_classes), int64.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of the same length; received shapes "
                         f"{y_true.shape} and {y_pred.shape}.")
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: confusion_matrix")
    # ===== END OF YOUR CODE =====


def misclassified_samples(model, X, y):
    """The samples that ``model`` gets wrong, in increasing index order.

    X : ndarray of shape (N, 64); y : ndarray of shape (N,)
    -> list of dicts ``{"index": int, "true": int, "pred": int, "prob": float}``, where
    ``prob`` is the probability the model gives to its (wrong) predicted class.
    """
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: misclassified_samples")
    # ===== END OF YOUR CODE =====


# ---------------------------------------------------------------- the original notebook's names
# (given: they are built on your predict_proba, confusion_matrix and misclassified_samples)


def _loader_arrays(test_loader):
    """The ``(inputs, labels)`` batches of a DataLoader as arrays X (N, 64), y (N,)."""
    inputs, labels = [], []
    for batch_inputs, batch_labels in test_loader:
        inputs.append(np.asarray(batch_inputs, dtype=np.float32))
        labels.append(np.asarray(batch_labels, dtype=np.int64))
    if not inputs:
        raise ValueError("the DataLoader gave no batches; pass the test split's DataLoader "
                         "(data_loader(split.X_test, split.y_test)).")
    return np.concatenate(inputs), np.concatenate(labels)


def evaluate_model_with_confusion_matrix(model, test_loader, num_classes=10):
    """The original notebook's call: ``(accuracy, C)`` of ``model`` on a DataLoader, C the
    confusion matrix (num_classes, num_classes) int64 with rows the true digit."""
    X, y = _loader_arrays(test_loader)
    pred = np.asarray(predict_proba(model, X)).argmax(axis=1)
    return float((pred == y).mean()), confusion_matrix(y, pred, num_classes=num_classes)


def evaluate_with_errors(model, test_loader):
    """The original notebook's call: ``(accuracy, errors)`` on a DataLoader, ``errors`` the
    list of ``misclassified_samples`` (index in the loader's order, true, pred, prob)."""
    X, y = _loader_arrays(test_loader)
    errors = misclassified_samples(model, X, y)
    return 1.0 - len(errors) / len(y), errors


def plot_error_samples(errors, images, max_samples=40, ncols=8):
    """The original notebook's figure: the misclassified digits of ``evaluate_with_errors``,
    titled true / predicted (probability). ``images`` (N, 8, 8) in the loader's order.
    Returns the matplotlib Figure (None when there is no error)."""
    import matplotlib.pyplot as plt

    shown = list(errors)[:max_samples]
    if not shown:
        return None
    nrows = math.ceil(len(shown) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.4 * ncols, 2.0 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, error in zip(axes.flat, shown, strict=False):
        ax.imshow(np.asarray(images)[int(error["index"])], cmap="gray_r")
        ax.set_title(f"true {int(error['true'])}\npred {int(error['pred'])} "
                     f"({float(error['prob']):.2f})", fontsize=8)
    fig.suptitle(f"Misclassified test digits ({len(shown)} of {len(errors)} shown)")
    fig.tight_layout(h_pad=1.2)
    return fig


# ---------------------------------------------------------------- random search


def sample_config(space, rng):
    """One configuration drawn from ``space`` with the numpy Generator ``rng``.

    space : dict name -> a list (pick one entry uniformly), ``("uniform", low, high)``,
        ``("loguniform", low, high)`` (log of the value uniform), ``("int", low, high)``
        (an integer in low..high inclusive), or any other value (kept as is).
    -> dict name -> value (plain Python bool / int / float / str).
    """
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: sample_config")
    # ===== END OF YOUR CODE =====


def random_search(space, n_trials, seed=0, split=None, epochs=30):
    """Random search over ``space`` scored on the *validation* split (never the test split).

    Trial t draws ``config = {**DEFAULT_CONFIG, **sample_config(space, rng)}`` with
    ``rng = np.random.default_rng(seed)`` and trains it with
    ``train_config(config, split, epochs, seed=seed + t)``.

    Returns
    -------
    best_config : dict, the config of the trial with the highest final validation accuracy
        (the first one on ties)
    trials : list of ``n_trials`` dicts ``{"config": dict, "val_acc": float,
        "val_loss": float}`` in trial order (the final epoch's validation metrics)
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer; received {n_trials!r}.")
    split = load_digits_split() if split is None else split
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("lab_digits_tricks: random_search")
    # ===== END OF YOUR CODE =====
