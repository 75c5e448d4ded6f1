"""Draw a results folder of train.py.

    python visualization.py --results_path results/<date-time>
    python visualization.py --results_path results/<date-time> --num_samples 30

Writes into the folder:

* ``top_samples.png``     the 100 highest-weighted training images, the ones ``summary.json``
                          counts (digit, weight and pool index above each);
* ``look_alikes.png``     the highest-weighted images that are *not* target digits;
* ``weights_by_digit.png`` the distribution of the learned weights of each digit (log scale);
* ``losses.png``          validation and held-out test loss on the targets, learned vs uniform.

Images are ranked by weight, highest first; equal weights (every log-weight clipped at
``max_log_weight`` gives the same weight) in pool order, lowest index first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from data import selection_data
from mnist_data_selection import draw_images, rank_by_weight, weight_titles
from train import TOP_K, read_results

from common.cli import dataclass_parser
from common.plots import save_figure


@dataclass
class VisualizationArgs:
    """Settings of one ``visualization.py`` run (every field is a command-line flag)."""

    results_path: str = ""
    num_samples: int = TOP_K
    num_look_alikes: int = 20


HELP = {
    "results_path": "a results folder written by train.py",
    "num_samples": "how many of the highest-weighted images to draw",
    "num_look_alikes": "how many of the highest-weighted non-target images to draw",
}


def parse_args(argv: list[str] | None = None) -> VisualizationArgs:
    parser = dataclass_parser(VisualizationArgs, HELP, __doc__.split("\n\n")[0],
                              required=("results_path",))
    args = VisualizationArgs(**vars(parser.parse_args(argv)))
    for name in ("num_samples", "num_look_alikes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1; received {getattr(args, name)}.")
    return args


def weights_by_digit(weights: np.ndarray, labels: np.ndarray, target_digits, path: Path) -> Path:
    """Box plot of the weights of each digit (log scale), target digits highlighted."""
    import matplotlib.pyplot as plt

    digits = np.unique(labels)
    fig, ax = plt.subplots(figsize=(7, 4))
    boxes = ax.boxplot([weights[labels == d] for d in digits], patch_artist=True, widths=0.6,
                       flierprops={"markersize": 2}, medianprops={"color": "black"})
    ax.set_xticks(np.arange(1, len(digits) + 1), [str(d) for d in digits])
    for box, digit in zip(boxes["boxes"], digits, strict=True):
        box.set_facecolor("tab:orange" if digit in target_digits else "tab:blue")
        box.set_alpha(0.6)
    ax.set_yscale("log")
    ax.axhline(1.0, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("digit")
    ax.set_ylabel("learned weight (mean 1; log scale)")
    in_pool = [d for d in target_digits if d in digits]
    ax.set_title(f"weights per digit (orange: targets {in_pool})" if in_pool else
                 f"weights per digit (the targets {list(target_digits)} are not in the pool)")
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)


def losses(history: dict, path: Path) -> Path:
    """Validation and test loss on the targets per epoch, learned (solid, dots) vs uniform
    (dashed, crosses): where the two runs agree, both stay visible."""
    import matplotlib.pyplot as plt

    style = {"learned": {"ls": "-", "marker": "o", "ms": 3},
             "uniform": {"ls": "--", "marker": "x", "ms": 5}}
    colour = {"val_loss": "tab:blue", "test_loss": "tab:orange"}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for run, curves in history.items():
        for key in ("val_loss", "test_loss"):
            values = curves.get(key, [])
            ax.plot(np.arange(1, len(values) + 1), values, color=colour[key], lw=1.4,
                    label=f"{key.split('_')[0]} ({run})", **style.get(run, {}))
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy on the target digits")
    ax.set_title("held-out loss on the targets: " + (
        "learned vs uniform weights" if len(history) > 1 else f"{next(iter(history))} weights"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> list[Path]:
    args = parse_args(argv)
    folder = Path(args.results_path)
    config, summary, history, arrays = read_results(folder)
    data = selection_data(config.target_digits, per_digit=config.per_digit,
                          pool_targets=config.pool_targets)
    if not np.array_equal(data.train_labels, arrays["train_labels"]):
        raise ValueError(f"the pool rebuilt from {folder / 'config.yaml'} does not match the "
                         "saved labels; was the folder written by another version of train.py?")
    weights, labels, targets = arrays["weights"], data.train_labels, data.target_digits
    top = rank_by_weight(weights)[:args.num_samples]
    look = rank_by_weight(weights, np.flatnonzero(~np.isin(labels, targets)))[
        :args.num_look_alikes]
    written = [
        draw_images(data.train_images[top], folder / "top_samples.png",
                    weight_titles(labels[top], weights[top], top),
                    f"the {len(top)} highest-weighted training images (targets "
                    f"{list(targets)}; equal weights in pool order)"),
        draw_images(data.train_images[look], folder / "look_alikes.png",
                    weight_titles(labels[look], weights[look], look),
                    f"the {len(look)} highest-weighted images of the other digits (equal "
                    "weights in pool order)"),
        weights_by_digit(weights, labels, targets, folder / "weights_by_digit.png"),
        losses(history, folder / "losses.png"),
    ]
    print(f"top {summary['top']['top_k']} weights: digits {summary['top']['digits']}")
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main()
