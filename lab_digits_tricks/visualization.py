"""Draw a ``train.py`` results folder: curves, confusion matrix, misclassified digits.

    python visualization.py                                  # the newest results/<date-time>/
    python visualization.py --results_path results/20250101-120000

Writes into ``<results>/figures/``:

* ``optimizers.png``, ``inits.png``, ``tricks.png``: loss (train dashed, validation solid) and
  validation accuracy per epoch, one colour per run;
* ``best.png``: the final model (BatchNorm + ReLU + Dropout(0.2) + Adam, the chosen values);
* ``search.png``: validation accuracy of each random-search trial against its learning rate
  and its weight decay, one colour per round;
* ``activations.png``: histograms of each hidden layer's activations of deep Sigmoid networks
  (U(0, 1), Xavier, He) and a ReLU network (He);
* ``optimizer_paths.png``: the paths of SGD, Momentum, AdaGrad and Adam on
  ``f(x, y) = x**2 / 20 + y**2``, one panel each over the contours of f;
* ``confusion_matrix.png``: the final model's test confusion matrix (rows: true digit);
* ``misclassified.png``: the misclassified test digits, titled true / predicted (probability),
  drawn by the original notebook's ``plot_error_samples``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter
from submission import plot_error_samples

from common.cli import dataclass_parser
from common.data import load_digits_split
from common.plots import save_figure

GROUP_TITLES = {
    "optimizers": "Optimisers (He init)",
    "inits": "Initialisations (plain SGD, lr 0.01)",
    "tricks": "Adam with BatchNorm, L2 weight decay, Dropout",
    "best": "Final model: BatchNorm + ReLU + Dropout(0.2) + Adam, lr and weight decay "
            "from the search",
}


@dataclass
class VisualizationArgs:
    """Settings of one ``visualization.py`` run (every field is a command-line flag)."""

    results_path: str = ""
    results_root: str = "results"
    max_misclassified: int = 40


HELP = {
    "results_path": "a results/<date-time> folder written by train.py (default: the newest "
                    "one under --results_root)",
    "results_root": "where train.py writes its results folders",
    "max_misclassified": "at most this many misclassified digits in misclassified.png",
}


def parse_args(argv: list[str] | None = None) -> VisualizationArgs:
    parser = dataclass_parser(VisualizationArgs, HELP, __doc__.split("\n\n")[0])
    return VisualizationArgs(**vars(parser.parse_args(argv)))


def find_results(args: VisualizationArgs) -> Path:
    """The folder to draw: ``--results_path``, else the newest under ``--results_root``."""
    if args.results_path:
        folder = Path(args.results_path)
    else:
        root = Path(args.results_root)
        runs = sorted(p for p in root.glob("*") if (p / "summary.json").is_file())
        if not runs:
            raise SystemExit(f"no results under {root}/; run `python train.py` first, or pass "
                             "--results_path.")
        folder = runs[-1]
    if not (folder / "histories.json").is_file():
        raise SystemExit(f"{folder} has no histories.json; pass a folder written by train.py.")
    return folder


def plot_group(histories: dict, title: str, path: Path) -> Path:
    """Loss (train dashed, val solid) and validation accuracy of each run of one group."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.get_cmap("tab10")
    for i, (name, history) in enumerate(histories.items()):
        epochs = np.arange(1, len(history["val_loss"]) + 1)
        ax_loss.plot(epochs, history["train_loss"], "--", color=colors(i), alpha=0.7)
        ax_loss.plot(epochs, history["val_loss"], color=colors(i), label=name)
        ax_acc.plot(epochs, history["val_acc"], color=colors(i), label=name)
    ax_loss.plot([], [], "--", color="gray", label="(dashed: train)")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy")
    low = min(min(h["val_acc"]) for h in histories.values())
    ax_acc.set_ylim(max(0.0, low - 0.02), 1.0)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_search(trials: list[dict], path: Path) -> Path:
    """Validation accuracy of each trial against its learning rate and its weight decay, one
    colour per round of the search; the chosen trial circled."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    rounds = sorted({t.get("round", 1) for t in trials})
    best = max(trials, key=lambda t: t["val_acc"])
    for ax, name in zip(axes, ("lr", "weight_decay"), strict=True):
        for r in rounds:
            chosen = [t for t in trials if t.get("round", 1) == r]
            ax.scatter([t["config"][name] for t in chosen], [t["val_acc"] for t in chosen],
                       label=f"round {r}", alpha=0.8)
        ax.scatter([best["config"][name]], [best["val_acc"]], s=160, facecolors="none",
                   edgecolors="black", label="chosen (best validation)")
        ax.set(xscale="log", xlabel=name.replace("_", " "))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation accuracy")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Random search: {len(trials)} trials in {len(rounds)} round(s), each round "
                 f"narrowing the ranges of the last")
    return save_figure(fig, path)


def plot_activations(activations: dict, path: Path) -> Path:
    """One row per network, one column per hidden layer: the histogram of its activations."""
    names = list(activations)
    layers = max(len(rows) for rows in activations.values())
    fig, axes = plt.subplots(len(names), layers, figsize=(2.4 * layers, 2.0 * len(names)),
                             squeeze=False)
    for i, name in enumerate(names):
        for j, row in enumerate(activations[name]):
            ax = axes[i, j]
            edges = np.asarray(row["edges"])
            ax.bar(edges[:-1], row["counts"], width=np.diff(edges), align="edge",
                   color=plt.get_cmap("tab10")(i))
            share = (f"{row['saturated']:.0%} saturated (< 0.01 or > 0.99)" if "sigmoid" in name
                     else f"{row['saturated']:.0%} exactly 0")
            ax.set_title(f"{name}: layer {row['layer']}\n{share}", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle("Activations of each hidden layer on the training digits (torch.manual_seed(42))")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_paths(paths: dict, path: Path) -> Path:
    """One panel per optimiser: its path over the contours of f(x, y) = x**2 / 20 + y**2."""
    xs, ys = np.meshgrid(np.linspace(-10, 10, 200), np.linspace(-5, 5, 200))
    zs = xs**2 / 20 + ys**2
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
    for ax, (name, run) in zip(axes.flat, paths.items(), strict=False):
        points = np.asarray(run["path"])
        ax.contour(xs, ys, zs, levels=np.geomspace(0.05, 20, 12), colors="gray",
                   linewidths=0.6)
        ax.plot(points[:, 0], points[:, 1], "o-", color="tab:red", markersize=3, linewidth=1)
        ax.plot([0], [0], "+", color="black", markersize=10)
        options = ", ".join(f"{k} {v}" for k, v in run["options"].items())
        ax.set(xlim=(-10, 10), ylim=(-5, 5), xlabel="x", ylabel="y",
               title=f"{name} ({options}): f = {run['final_f']:.3g} after "
                     f"{len(points) - 1} steps")
        ax.title.set_fontsize(9)
    fig.suptitle("Optimiser paths on f(x, y) = x²/20 + y² from (-7, 2)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_confusion(matrix: np.ndarray, path: Path, title: str) -> Path:
    """Heatmap of ``matrix`` (K, K) with the count in each cell."""
    k = len(matrix)
    fig, ax = plt.subplots(figsize=(6, 5.2))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    for i in range(k):
        for j in range(k):
            if matrix[i, j]:
                dark = matrix[i, j] > matrix.max() / 2
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted digit", ylabel="true digit",
           title=title)
    return save_figure(fig, path)


def plot_misclassified(samples: list[dict], images: np.ndarray, path: Path, limit: int
                       ) -> Path | None:
    """The first ``limit`` misclassified 8x8 digits, drawn by ``plot_error_samples``."""
    fig = plot_error_samples(samples, images, max_samples=limit)
    return None if fig is None else save_figure(fig, path)


def main(argv: list[str] | None = None) -> list[Path]:
    args = parse_args(argv)
    folder = find_results(args)
    out = folder / "figures"
    histories = json.loads((folder / "histories.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    written = [plot_group(runs, GROUP_TITLES.get(group, group), out / f"{group}.png")
               for group, runs in histories.items()]
    written.append(plot_search(summary["search"], out / "search.png"))
    experiments_file = folder / "experiments.json"
    if experiments_file.is_file():
        experiments = json.loads(experiments_file.read_text())
        written.append(plot_activations(experiments["activations"], out / "activations.png"))
        written.append(plot_paths(experiments["optimizer_paths"], out / "optimizer_paths.png"))
    matrix = np.array(json.loads((folder / "confusion_matrix.json").read_text()))
    written.append(plot_confusion(matrix, out / "confusion_matrix.png",
                                  f"Final model, test accuracy {summary['best_test_acc']:.3f}"))
    samples = json.loads((folder / "misclassified.json").read_text())
    grid = plot_misclassified(samples, load_digits_split().images_test, out / "misclassified.png",
                              args.max_misclassified)
    written += [grid] if grid else []
    for path in written:
        print(f"wrote {path}")
    print(f"{len(samples)} misclassified test digits"
          + (f" (the first {args.max_misclassified} drawn)"
             if len(samples) > args.max_misclassified else ""))
    return written


if __name__ == "__main__":
    main()
