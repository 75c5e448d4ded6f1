"""The original notebook's small experiments, run with your code by ``train.py``.

* :func:`activation_histograms`: deep Sigmoid networks initialised with U(0, 1) under
  ``torch.manual_seed(42)``, then Xavier and He (and ReLU with He), and the histogram of every
  hidden layer's activations on the training digits;
* :func:`optimizer_paths`: the path of SGD, Momentum, AdaGrad and Adam (your optimisers) on
  the toy function ``f(x, y) = x**2 / 20 + y**2`` from (-7, 2);
* :func:`model_summary`: a torchinfo-style table of a model (``torchinfo.summary`` when that
  package is installed, else the same columns computed here).

Each returns plain JSON data; ``visualization.py`` draws it.
"""

from __future__ import annotations

import numpy as np
import torch
from submission import SGD, AdaGrad, Adam, init_he, init_uniform, init_xavier
from torch import nn

ACTIVATION_SEED = 42  # the original notebook's torch.manual_seed(42)
ACTIVATION_LAYERS, ACTIVATION_WIDTH, BINS = 5, 100, 30
NETWORKS = {  # name -> (activation, init)
    "sigmoid, U(0, 1)": ("sigmoid", "uniform01"),
    "sigmoid, Xavier": ("sigmoid", "xavier"),
    "sigmoid, He": ("sigmoid", "he"),
    "ReLU, He": ("relu", "he"),
}
START = (-7.0, 2.0)
PATH_STEPS = 30
PATH_OPTIMIZERS = {  # rates that show each one's character on f in 30 steps
    "SGD": (SGD, {"lr": 0.95}),
    "Momentum": (SGD, {"lr": 0.1, "momentum": 0.9}),
    "AdaGrad": (AdaGrad, {"lr": 1.5}),
    "Adam": (Adam, {"lr": 0.3}),
}


def _init(name: str):
    if name == "uniform01":
        return lambda module: init_uniform(module, low=0.0, high=1.0)
    return {"xavier": init_xavier, "he": init_he}[name]


def activation_histograms(X: np.ndarray, seed: int = ACTIVATION_SEED) -> dict:
    """Per network of NETWORKS, the activations of its ACTIVATION_LAYERS hidden layers.

    X : ndarray of shape (N, 64), the standardised training digits.
    -> {network: [{"layer": i, "counts": [BINS ints], "edges": [BINS + 1 floats],
    "mean": float, "std": float, "saturated": float}, ...]}, where ``saturated`` is the
    fraction of sigmoid outputs below 0.01 or above 0.99 (ReLU: the fraction exactly 0).
    Each network is built after ``torch.manual_seed(seed)``.
    """
    inputs = torch.as_tensor(np.asarray(X, dtype=np.float32))
    result = {}
    for name, (activation, init) in NETWORKS.items():
        torch.manual_seed(seed)
        layers = [nn.Linear(inputs.shape[1] if i == 0 else ACTIVATION_WIDTH, ACTIVATION_WIDTH)
                  for i in range(ACTIVATION_LAYERS)]
        for layer in layers:
            layer.apply(_init(init))
        h, rows = inputs, []
        with torch.no_grad():
            for i, layer in enumerate(layers, start=1):
                h = torch.sigmoid(layer(h)) if activation == "sigmoid" else torch.relu(layer(h))
                values = h.numpy().ravel()
                top = 1.0 if activation == "sigmoid" else max(float(values.max()), 1e-6)
                counts, edges = np.histogram(values, bins=BINS, range=(0.0, top))
                saturated = ((values < 0.01) | (values > 0.99)).mean() \
                    if activation == "sigmoid" else (values == 0).mean()
                rows.append({"layer": i, "counts": counts.tolist(), "edges": edges.tolist(),
                             "mean": float(values.mean()), "std": float(values.std()),
                             "saturated": float(saturated)})
        result[name] = rows
    return result


def toy_function(xy: torch.Tensor) -> torch.Tensor:
    """f(x, y) = x**2 / 20 + y**2 of a tensor of shape (2,)."""
    return xy[0] ** 2 / 20 + xy[1] ** 2


def optimizer_paths(steps: int = PATH_STEPS) -> dict:
    """The ``steps + 1`` points (x, y) each optimiser of PATH_OPTIMIZERS visits from START.

    -> {name: {"options": dict, "path": [[x, y], ...], "final_f": float}}.
    """
    result = {}
    for name, (optimizer_class, options) in PATH_OPTIMIZERS.items():
        xy = torch.tensor(START, dtype=torch.float64, requires_grad=True)
        optimizer = optimizer_class([xy], **options)
        path = [xy.detach().tolist()]
        for _ in range(steps):
            optimizer.zero_grad()
            toy_function(xy).backward()
            optimizer.step()
            path.append(xy.detach().tolist())
        if not np.all(np.isfinite(path)):
            raise ValueError(f"{name}'s path on f(x, y) = x**2 / 20 + y**2 is not finite "
                             f"(last point {path[-1]}); check {optimizer_class.__name__}.step.")
        result[name] = {"options": options, "path": path,
                        "final_f": float(toy_function(torch.tensor(path[-1])))}
    return result


def _summary_rows(model: nn.Module, x: torch.Tensor) -> tuple[list[tuple[str, tuple, int]],
                                                                tuple]:
    """((name, output shape, parameter count) of each leaf module in call order, the model's
    output shape), from one forward pass of ``x`` in eval mode."""
    rows: list[tuple[str, tuple, int]] = []
    hooks = []
    counters: dict[str, int] = {}
    for module in model.modules():
        if list(module.children()):
            continue

        def hook(module, _inputs, output):
            kind = type(module).__name__
            counters[kind] = counters.get(kind, 0) + 1
            rows.append((f"{kind}-{counters[kind]}", tuple(output.shape),
                         sum(p.numel() for p in module.parameters(recurse=False))))

        hooks.append(module.register_forward_hook(hook))
    training_before = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(x)
    finally:
        model.train(training_before)
        for handle in hooks:
            handle.remove()
    return rows, tuple(output.shape)


def model_summary(model: nn.Module, batch_size: int = 32, in_features: int = 64) -> str:
    """A torchinfo-style table of ``model`` on an input of shape (batch_size, in_features):
    each layer's output shape and parameter count, the totals and the sizes in MB.

    With ``torchinfo`` installed this is ``str(torchinfo.summary(model, (batch_size,
    in_features)))``; without it, the same columns are computed here.
    """
    try:
        import torchinfo
    except ImportError:
        torchinfo = None
    if torchinfo is not None:
        return str(torchinfo.summary(model, input_size=(batch_size, in_features), verbose=0))
    x = torch.zeros(batch_size, in_features)
    rows, output_shape = _summary_rows(model, x)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    line, thick = "-" * 64, "=" * 64
    out = [thick, f"{'Layer (type)':<28}{'Output Shape':<22}{'Param #':>14}", thick,
           f"{type(model).__name__:<28}{str(list(output_shape)):<22}{'--':>14}"]
    out += [f"  {name:<26}{str(list(shape)):<22}{count:>14,}" for name, shape, count in rows]
    buffers = sum(b.numel() for b in model.buffers())
    activations = sum(int(np.prod(shape)) for _, shape, _ in rows)
    out += [thick, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", line,
            f"Input size (MB): {x.numel() * 4 / 1e6:.2f}",
            f"Forward pass size (MB): {activations * 4 / 1e6:.2f}",
            f"Params size (MB): {(total + buffers) * 4 / 1e6:.2f}", thick]
    return "\n".join(out)
