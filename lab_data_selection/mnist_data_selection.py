"""Data selection on MNIST: learn one weight per training image so that training on the weighted
pool lowers the loss on the target digits (6 and 7 by default).

    python mnist_data_selection.py        # the whole example: train, analyse, draw (CPU, ~2 min)

    selector = MNISTDataSelector(target_digits=[6, 7], batch_size=64, device="cpu")
    train_losses, val_losses = selector.train(num_epochs=30)
    top_indices, top_weights = selector.analyze_sample_importance(top_k=100)
    selector.visualize_results(top_indices, num_samples=20)

Every step does one hyper-step (your hypergradient of the validation loss with respect to the
log-weights of the batch, through your Neumann series and Gauss-Newton products), clips the
log-weights to [-max_log_weight, max_log_weight], then one SGD step of the network on the
re-weighted batch. ``learn_weights=False`` skips the hyper-step: the uniform-weights baseline
with the same budget (same initial network, same batches, same learning-rate schedule).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from data import SelectionData, check_target_digits, normalise, selection_data
from hyper_opt import NeumannHyperOptimizer
from model import DataSelectionHyperOptModel
from network import build_network
from torch import nn

from common.device import pick_device
from common.progress import progress

# Calibrated on the MNIST sample (README, "What to expect"): the network's SGD must stay well
# inside its stability limit (lr * lambda_max of the curvature), and inner_lr below
# 2 / lambda_max of the Gauss-Newton matrix of a batch (about 20 to 120 here).
DEFAULTS = {"network": "simple", "lr": 0.01, "momentum": 0.9, "hyper_optimizer": "SGD",
            "hyper_lr": 100.0, "K": 5, "inner_lr": 0.01, "use_gauss_newton": True,
            "stochastic": True, "max_log_weight": 2.0}


def selector_network(network) -> nn.Module:
    """The selector's network: ``build_network(name)`` for a name, or the ``nn.Module`` given
    (the original assignment's way), checked to map (B, 28, 28) images to (B, 10) logits."""
    if isinstance(network, str):
        return build_network(network)
    if not isinstance(network, nn.Module):
        raise ValueError(f"network must be a name ('simple' or 'mlp') or an nn.Module; "
                         f"received {type(network).__name__}.")
    parameter = next(network.parameters(), None)
    probe = torch.zeros(2, 28, 28, device=None if parameter is None else parameter.device)
    training = network.training
    try:
        with torch.no_grad():
            shape = tuple(network.eval()(probe).shape)
    except Exception as exc:  # noqa: BLE001 - reported with what was expected
        raise ValueError(f"the network object must map images (B, 28, 28) to logits (B, 10); "
                         f"calling it on zeros of shape (2, 28, 28) raised "
                         f"{type(exc).__name__}: {exc}") from exc
    finally:
        network.train(training)
    if shape != (2, 10):
        raise ValueError(f"the network object must map images (B, 28, 28) to logits (B, 10); "
                         f"on zeros of shape (2, 28, 28) it returned shape {shape}.")
    return network


class MNISTDataSelector:
    """Per-sample weights of an MNIST training pool, learned by hypergradient descent.

    Parameters
    ----------
    target_digits : list of int, default [6, 7]
        The validation loss is measured on these digits.
    batch_size : int, default 64
    device : {"auto", "cpu", "cuda"} or torch.device, default "cpu"
    data : SelectionData, optional
        Default: :func:`data.selection_data` of the embedded MNIST sample.
    learn_weights : bool, default True
        False: uniform weights (no hyper-steps), the baseline.
    seed : int, default 0
        Network initialisation and batch order.
    verbose : bool, default True
    **settings
        Overrides of ``DEFAULTS``: ``network`` ("simple" or "mlp", or, as in the original
        assignment, a network object such as ``SimpleModel()``: an ``nn.Module`` mapping
        (B, 28, 28) to logits (B, 10), used as given), ``lr`` and ``momentum``
        (SGD of the network, cosine-annealed to 0 over a ``train`` call), ``hyper_optimizer``
        ("SGD", "Adam", "RMSprop") and ``hyper_lr`` (its step on the log-weights; the
        hypergradient of one weight is about 1 / batch_size of a per-sample alignment, hence
        the large default), ``K`` and ``inner_lr`` (the Neumann series), ``use_gauss_newton``,
        ``stochastic``, ``max_log_weight``.
    """

    def __init__(self, target_digits=(6, 7), batch_size: int = 64, device: str = "cpu",
                 data: SelectionData | None = None, learn_weights: bool = True, seed: int = 0,
                 verbose: bool = True, **settings):
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; choose from "
                             f"{sorted(DEFAULTS)}.")
        self.settings = {**DEFAULTS, **settings}
        s = self.settings
        self.target_digits = check_target_digits(target_digits)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
            raise ValueError(f"batch_size must be an integer >= 2; received {batch_size!r}.")
        if not s["max_log_weight"] > 0:
            raise ValueError(f"max_log_weight must be > 0; received {s['max_log_weight']!r}.")
        self.batch_size = batch_size
        # the original assignment passes a torch.device
        self.device = pick_device(str(device) if isinstance(device, torch.device) else device)
        self.data = data if data is not None else selection_data(self.target_digits)
        if tuple(self.data.target_digits) != self.target_digits:
            raise ValueError(f"data holds target digits {list(self.data.target_digits)} but "
                             f"target_digits is {list(self.target_digits)}; build the data "
                             "with the same digits.")
        if len(self.data.train_labels) < batch_size:
            raise ValueError(f"the training pool ({len(self.data.train_labels)} images) is "
                             f"smaller than batch_size ({batch_size}).")
        self.learn_weights, self.verbose, self.seed = learn_weights, verbose, seed
        self.generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.network = selector_network(s["network"]).to(self.device)
        self.criterion = nn.CrossEntropyLoss(reduction="none")
        self.model = DataSelectionHyperOptModel(self.network, self.criterion,
                                                len(self.data.train_labels)).to(self.device)
        self.hyper_optimizer = NeumannHyperOptimizer(
            self.model.parameters, self.model.hyper_parameters,
            base_optimizer=s["hyper_optimizer"], default=dict(lr=s["hyper_lr"]),
            use_gauss_newton=s["use_gauss_newton"], stochastic=s["stochastic"])
        self.hyper_optimizer.set_kwargs(inner_lr=s["inner_lr"], K=s["K"])
        self.model_optimizer = torch.optim.SGD(self.model.parameters, lr=s["lr"],
                                               momentum=s["momentum"])
        d = self.data
        self.x_train, self.x_val = (normalise(x).to(self.device)
                                    for x in (d.train_images, d.val_images))
        self.y_train, self.y_val = (torch.as_tensor(y).to(self.device)
                                    for y in (d.train_labels, d.val_labels))
        self.x_test = self.y_test = None
        if d.test_images is not None and d.test_labels is not None:
            self.x_test = normalise(d.test_images).to(self.device)
            self.y_test = torch.as_tensor(d.test_labels).to(self.device)
        self.history: dict[str, list[float]] = {"train_loss": [], "val_loss": [],
                                                "test_loss": [], "test_accuracy": []}
        self.timing = {"hyper_step_s": 0.0, "model_step_s": 0.0, "steps": 0}
        # On a CPU the steps are timed in this process's CPU time, so that other work on a
        # shared machine does not change the hyper-step's cost in SGD steps.
        self._clock = time.process_time if self.device.type == "cpu" else time.perf_counter

    def _say(self, text: str) -> None:
        if self.verbose:
            print(text)

    def train_step(self, x: torch.Tensor, y: torch.Tensor, indices: torch.Tensor) -> float:
        """One hyper-step (when learning weights), then one SGD step; the batch's loss."""
        def train_loss_fn():
            return self.model.train_loss(x, y, indices)

        def val_loss_fn():
            return self.model.validation_loss(self.x_val, self.y_val)

        start = self._clock()
        if self.learn_weights:
            self.hyper_optimizer.step(train_loss_fn, val_loss_fn)
            with torch.no_grad():
                limit = self.settings["max_log_weight"]
                self.model.log_weights.clamp_(-limit, limit)
        middle = self._clock()
        loss, _ = train_loss_fn()
        grads = torch.autograd.grad(loss, self.model.parameters)
        for param, grad in zip(self.model.parameters, grads, strict=True):
            param.grad = grad
        self.model_optimizer.step()
        end = self._clock()
        self.timing["hyper_step_s"] += middle - start
        self.timing["model_step_s"] += end - middle
        self.timing["steps"] += 1
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """The validation loss; the held-out test loss and accuracy when the data has a test
        set (all on the target digits)."""
        scores = {"val_loss": float(self.model.validation_loss(self.x_val, self.y_val))}
        if self.x_test is not None:
            logits = self.network(self.x_test)
            scores["test_loss"] = float(self.criterion(logits, self.y_test).mean())
            scores["test_accuracy"] = float((logits.argmax(dim=1) == self.y_test).float().mean())
        return scores

    @torch.no_grad()
    def predict_logits(self, images: np.ndarray) -> np.ndarray:
        """Logits (N, 10) of the network for images (N, 28, 28) in [0, 1]."""
        return self.network(normalise(images).to(self.device)).cpu().numpy()

    def train(self, num_epochs: int = 30):
        """Train for ``num_epochs`` passes over the pool (the last partial batch is dropped).

        Returns
        -------
        train_losses, val_losses : lists of ``num_epochs`` floats
            The mean (weighted) training loss of each epoch, and the validation loss on the
            target digits at its end.
        """
        if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
            raise ValueError(f"num_epochs must be a positive integer; received {num_epochs!r}.")
        n = len(self.y_train)
        steps_per_epoch = n // self.batch_size
        for group in self.model_optimizer.param_groups:
            group["lr"] = group.setdefault("initial_lr", group["lr"])
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.model_optimizer, T_max=num_epochs * steps_per_epoch)
        what = "learned weights" if self.learn_weights else "uniform weights"
        epochs = progress(range(num_epochs), desc=what, total=num_epochs,
                          unit="epoch") if self.verbose else range(num_epochs)
        for _ in epochs:
            order = torch.randperm(n, generator=self.generator).to(self.device)
            losses = []
            for step in range(steps_per_epoch):
                idx = order[step * self.batch_size:(step + 1) * self.batch_size]
                losses.append(self.train_step(self.x_train[idx], self.y_train[idx], idx))
                schedule.step()
            scores = self.evaluate()
            self.history["train_loss"].append(float(np.mean(losses)))
            for key, value in scores.items():
                self.history[key].append(value)
            if self.verbose:
                epochs.set_postfix(val_loss=f"{scores['val_loss']:.4f}")
        return list(self.history["train_loss"]), list(self.history["val_loss"])

    def sample_weights(self) -> np.ndarray:
        """The weights of the pool (N,), normalised to mean 1."""
        return self.model.get_sample_weights().cpu().numpy()

    def look_alikes(self, top_k: int = 20) -> np.ndarray:
        """Indices of the ``top_k`` highest-weighted images that are *not* target digits."""
        weights = self.sample_weights()
        others = np.flatnonzero(~np.isin(self.data.train_labels, self.target_digits))
        return rank_by_weight(weights, others)[:top_k]

    def analyze_sample_importance(self, top_k: int = 100):
        """The ``top_k`` highest-weighted samples; prints what they are.

        Returns
        -------
        top_indices : ndarray of shape (top_k,), int64
            Indices into the training pool, highest weight first.
        top_weights : ndarray of shape (top_k,)
        """
        weights = self.sample_weights()
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= len(
                weights):
            raise ValueError(f"top_k must be an integer in 1..{len(weights)}; received "
                             f"{top_k!r}.")
        top_indices = rank_by_weight(weights)[:top_k]
        top_weights = weights[top_indices]
        labels = self.data.train_labels
        share = float(np.isin(labels[top_indices], self.target_digits).mean())
        self._say(f"top {top_k} weights: {top_weights[-1]:.3f} .. {top_weights[0]:.3f} (all: "
                  f"min {weights.min():.3f}, median {np.median(weights):.3f}, max "
                  f"{weights.max():.3f})")
        if self.data.base_rate > 0:
            self._say(f"  target digits {list(self.target_digits)}: {share:.0%} of the top "
                      f"{top_k} (base rate {self.data.base_rate:.0%}, "
                      f"x{share / self.data.base_rate:.1f})")
        self._say(f"  digits of the top {top_k}: {digit_counts(labels[top_indices])}")
        self._say(f"  the 20 highest-weighted other digits: "
                  f"{digit_counts(labels[self.look_alikes(20)])}")
        mean = {d: float(weights[labels == d].mean()) for d in np.unique(labels)}
        self._say("  mean weight per digit: " + ", ".join(f"{d}: {w:.2f}"
                                                          for d, w in mean.items()))
        return top_indices, top_weights

    def visualize_results(self, top_indices, num_samples: int = 20, path=None,
                          title: str | None = None) -> dict[int, int]:
        """Draw the first ``num_samples`` of ``top_indices`` (digit, weight and pool index above
        each, in the order given: :func:`rank_by_weight` puts ties in pool order).

        Writes ``path`` (default ``results/top_samples.png``); returns {digit: count} of them.
        """
        chosen = np.asarray(top_indices)[:num_samples]
        weights = self.sample_weights()
        labels = self.data.train_labels[chosen]
        path = Path(path) if path is not None else Path("results") / "top_samples.png"
        title = title or (f"the {len(chosen)} highest-weighted training images (targets "
                          f"{list(self.target_digits)}; equal weights in pool order)")
        draw_images(self.data.train_images[chosen], path,
                    weight_titles(labels, weights[chosen], chosen), title)
        counts = digit_counts(labels)
        self._say(f"digits of the {len(chosen)} drawn: {counts}; picture in {path}")
        return counts


def digit_counts(labels: np.ndarray) -> dict[int, int]:
    """{digit: count} of the digits present in ``labels``, most frequent first."""
    counts = np.bincount(np.asarray(labels), minlength=10)
    return {int(d): int(counts[d]) for d in np.argsort(-counts, kind="stable") if counts[d]}


def rank_by_weight(weights: np.ndarray, among=None) -> np.ndarray:
    """Pool indices by weight, highest first; equal weights in pool order (lowest index first).

    Clipping makes ties common: every image whose log-weight reached ``max_log_weight`` has
    the same weight (on the 6s and 7s, about a hundred of them). Ties are broken by the pool
    index, so the order, and which tied images make a top-k, is the same at every call.

    Parameters
    ----------
    weights : ndarray of shape (N,)
    among : ndarray of shape (M,) of pool indices, optional
        Rank only these (default: all N).

    Returns
    -------
    indices : ndarray of shape (M,) (or (N,)), int64.
    """
    among = np.arange(len(weights)) if among is None else np.sort(np.asarray(among))
    return among[np.argsort(-np.asarray(weights)[among], kind="stable")]


def weight_titles(labels: np.ndarray, weights: np.ndarray, indices: np.ndarray) -> list[str]:
    """One title per drawn image: its digit, weight and pool index (ties are in pool order)."""
    return [f"{d} w={w:.2f} #{i}" for d, w, i in zip(labels, weights, indices, strict=True)]


def draw_images(images: np.ndarray, path, titles: list[str], title: str, ncols: int = 10) -> Path:
    """Draw images (M, 28, 28) in [0, 1] as a grid under a figure title; writes ``path``.

    The title sits right above the first row: the figure is laid out as a whole, with no band
    left between them.
    """
    import matplotlib.pyplot as plt

    from common.plots import save_figure

    images = np.asarray(images)
    if images.ndim != 3 or len(titles) != len(images) or len(images) == 0:
        raise ValueError(f"draw_images needs images (M, H, W) with M >= 1 and one title each; "
                         f"received shape {images.shape} and {len(titles)} titles.")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.25 * ncols, 1.35 * nrows + 0.4),
                             squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=1)
            ax.set_title(titles[i], fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def main() -> Path:
    """The whole example with fixed settings; writes results/<date-time>-example/."""
    from common.plots import plot_curves
    from common.seeding import seed_everything
    from common.threads import set_thread_budget

    set_thread_budget(1)
    seed_everything(0)
    folder = Path("results") / datetime.now().strftime("%Y%m%d-%H%M%S-example")
    started = time.perf_counter()
    selector = MNISTDataSelector(target_digits=[6, 7], batch_size=64, device="auto")
    print(f"{selector.data}; {sum(p.numel() for p in selector.model.parameters):,} network "
          f"weights, {len(selector.y_train):,} log-weights, device {selector.device}")
    train_losses, val_losses = selector.train(num_epochs=30)
    uniform = MNISTDataSelector(target_digits=[6, 7], batch_size=64, device="auto",
                                data=selector.data, learn_weights=False, verbose=False)
    uniform.train(num_epochs=30)
    learned, base = selector.history["test_loss"][-1], uniform.history["test_loss"][-1]
    print(f"loss on the held-out 6s and 7s after 30 epochs: {learned:.4f} with learned "
          f"weights, {base:.4f} with uniform weights ({learned / base - 1:+.0%})")
    top_indices, _ = selector.analyze_sample_importance(top_k=100)
    selector.visualize_results(top_indices, num_samples=20, path=folder / "top_samples.png")
    selector.visualize_results(selector.look_alikes(20), num_samples=20,
                               path=folder / "look_alikes.png",
                               title="the 20 highest-weighted images of the other digits "
                                     "(equal weights in pool order)")
    plot_curves({"train (weighted)": train_losses, "validation (targets)": val_losses,
                 "test (targets)": selector.history["test_loss"]}, folder / "losses.png",
                ylabel="cross-entropy", title="the run with learned weights, per epoch")
    print(f"{time.perf_counter() - started:.0f} s; pictures in {folder}")
    return folder


if __name__ == "__main__":
    main()
