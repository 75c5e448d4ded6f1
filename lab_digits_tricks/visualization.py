"""Draw a ``train.py`` results folder: curves, confusion matrix, misclassified digits.

    python visualization.py                                  # the newest results/<date-time>/
    python visualization.py --results_path results/20250101-120000

Writes into ``<results>/figures/``:

* ``optimizers.png``, ``inits.png``, ``tricks.png``: loss (train dashed, validation solid) and
  validation accuracy per epoch, one colour per run;
* ``search.png``: validation accuracy of each random-search trial against its learning rate;
* ``confusion_matrix.png``: the best model's test confusion matrix (rows: true digit);
* ``misclassified.png``: the misclassified test digits, titled true / predicted (probability).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from common.cli import dataclass_parser
from common.data import load_digits_split
from common.plots import image_grid, save_figure

GROUP_TITLES = {
    "optimizers": "Optimisers (He init)",
    "inits": "Initialisations (plain SGD, lr 0.01)",
    "tricks": "Adam with BatchNorm, L2 weight decay, Dropout",
    "best": "Best configuration of the random search",
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
    """Validation accuracy of each trial against its learning rate, by optimiser."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in sorted({t["config"]["optimizer"] for t in trials}):
        chosen = [t for t in trials if t["config"]["optimizer"] == name]
        ax.scatter([t["config"]["lr"] for t in chosen], [t["val_acc"] for t in chosen],
                   label=name)
    best = max(trials, key=lambda t: t["val_acc"])
    ax.scatter([best["config"]["lr"]], [best["val_acc"]], s=160, facecolors="none",
               edgecolors="black", label="chosen (best validation)")
    ax.set(xscale="log", xlabel="learning rate", ylabel="validation accuracy",
           title=f"Random search: {len(trials)} trials")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
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
    """The first ``limit`` misclassified 8x8 digits, titled with the true digit, the
    predicted one and the probability the model gave its prediction."""
    if not samples:
        return None
    shown = samples[:limit]
    titles = [f"true {s['true']}\npred {s['pred']} ({s['prob']:.2f})" for s in shown]
    return image_grid(images[[s["index"] for s in shown]], path, ncols=8, titles=titles)


def main(argv: list[str] | None = None) -> list[Path]:
    args = parse_args(argv)
    folder = find_results(args)
    out = folder / "figures"
    histories = json.loads((folder / "histories.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    written = [plot_group(runs, GROUP_TITLES.get(group, group), out / f"{group}.png")
               for group, runs in histories.items()]
    written.append(plot_search(summary["search"], out / "search.png"))
    matrix = np.array(json.loads((folder / "confusion_matrix.json").read_text()))
    written.append(plot_confusion(matrix, out / "confusion_matrix.png",
                                  f"Best model, test accuracy {summary['best_test_acc']:.3f}"))
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
