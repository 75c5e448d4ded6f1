"""Pictures of a training run of train.py.

    python visualization.py --results_path results/<run>

Writes into the run folder:

* ``reconstructions.png``: ten held-out digits (one of each class) in the top row, under them
  each SAE's reconstruction and the ensemble's mean reconstruction;
* ``training_metrics.png``: per epoch, the loss, the held-out MSE, the Pearson correlation
  (training and held-out), the L0 and the fraction of dead features;
* ``sae_features.png``: decoder directions of one SAE as 28 x 28 tiles, the most frequently
  firing features on held-out digits first (grey = 0, light = positive, dark = negative).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from train import METRICS_FILE, read_config
from trainer import as_images, load_model

from common.data import load_mnist
from common.plots import image_grid, save_figure
from common.seeding import seed_everything


@dataclass
class VisualizationConfig:
    """Settings of visualization.py."""

    results_path: str = ""
    sae_index: int = 0
    n_features: int | None = None


def one_per_class(labels: np.ndarray) -> np.ndarray:
    """Index of the first image of each digit 0..9."""
    return np.array([int(np.flatnonzero(labels == d)[0]) for d in range(10)])


def plot_reconstructions(model, images: np.ndarray, path: Path) -> Path:
    """Originals (top row), then each SAE's reconstruction, then the ensemble mean."""
    x = as_images(images)
    with torch.no_grad():
        _, _, recons = model(x)
    recons = recons.clamp(0, 1)
    rows = [x, *recons, recons.mean(0)]
    names = ["original"] + [f"SAE {s}" for s in range(len(recons))] + ["ensemble"]
    tiles = torch.cat(rows).reshape(-1, 28, 28).numpy()
    titles = [name if i % len(x) == 0 else "" for name in names for i in range(len(x))]
    return image_grid(tiles, path, ncols=len(x), titles=titles,
                      title="held-out digits and their reconstructions")


def plot_training_metrics(metrics: dict, path: Path) -> Path:
    """Six panels of per-epoch curves (one line per SAE where a metric is per SAE)."""
    epochs = metrics["epochs"]
    x = [m["epoch"] for m in epochs]
    panels = [("training loss", {"loss": [m["loss"] for m in epochs]}),
              ("held-out MSE", _per_sae(epochs, "test", "mse")),
              ("held-out Pearson", _per_sae(epochs, "test", "pearson")),
              ("training Pearson (1,000 digits)", _per_sae(epochs, "train", "pearson")),
              ("training L0 (active latents)", _per_sae(epochs, "train", "l0")),
              ("dead fraction (training epoch)", _per_sae(epochs, "train", "dead_fraction"))]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, (title, curves) in zip(axes.flat, panels, strict=True):
        for name, values in curves.items():
            ax.plot(x, values, marker="." if len(x) < 30 else None, label=name)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.ticklabel_format(axis="y", useOffset=False)
        if title.startswith("training L0"):  # constant at k in a healthy run: show it from 0
            ax.set_ylim(0, 1.15 * max(max(v) for v in curves.values()))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def _per_sae(epochs: list[dict], split: str, name: str) -> dict[str, list[float]]:
    values = np.array([m[split][name] for m in epochs])  # (epochs, S)
    curves = {f"SAE {s}": values[:, s].tolist() for s in range(values.shape[1])}
    if name in epochs[0][split].get("ensemble", {}):
        curves["ensemble"] = [m[split]["ensemble"][name] for m in epochs]
    return curves


def plot_features(model, images: np.ndarray, sae_index: int, n_features: int,
                  path: Path) -> Path:
    """Decoder rows of SAE ``sae_index`` as 28 x 28 tiles, most frequent features first."""
    with torch.no_grad():
        _, latents, _ = model(as_images(images))
    frequency = (latents[sae_index] != 0).float().mean(0)
    order = torch.argsort(frequency, descending=True, stable=True)[:n_features]
    directions = model.W_dec[sae_index, order].detach()
    scale = directions.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
    tiles = (0.5 + 0.5 * directions / scale).reshape(-1, 28, 28).numpy()
    titles = [f"#{int(j)} {float(frequency[j]):.0%}" for j in order]
    return image_grid(tiles, path, ncols=8, titles=titles,
                      title=f"SAE {sae_index}: decoder directions (feature, firing rate)")


def parse_args(argv=None) -> VisualizationConfig:
    d = VisualizationConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results_path", required=True, help="a run folder written by train.py")
    parser.add_argument("--sae_index", type=int, default=d.sae_index,
                        help=f"the SAE shown in sae_features.png (default {d.sae_index})")
    parser.add_argument("--n_features", type=int, default=d.n_features,
                        help="features in sae_features.png (default: 64, or all when fewer)")
    return VisualizationConfig(**vars(parser.parse_args(argv)))


def main(argv=None) -> list[Path]:
    args = parse_args(argv)
    run = Path(args.results_path)
    cfg = read_config(run)
    if not 0 <= args.sae_index < cfg.n_saes:
        raise ValueError(f"--sae_index must be in 0..{cfg.n_saes - 1} (the run has {cfg.n_saes} "
                         f"SAEs); received {args.sae_index}.")
    if args.n_features is None:
        args.n_features = min(64, cfg.n_latents)
    if not 1 <= args.n_features <= cfg.n_latents:
        raise ValueError(f"--n_features must be in 1..{cfg.n_latents}; received "
                         f"{args.n_features}.")
    metrics_path = run / METRICS_FILE
    if not metrics_path.is_file():
        raise ValueError(f"no {METRICS_FILE} in {run}; did training finish its first epoch?")
    seed_everything(cfg.seed)
    model = load_model(run / "sae")
    images, labels = load_mnist("sample", "test")
    written = [plot_reconstructions(model, images[one_per_class(labels)],
                                    run / "reconstructions.png"),
               plot_training_metrics(json.loads(metrics_path.read_text()),
                                     run / "training_metrics.png"),
               plot_features(model, images, args.sae_index, args.n_features,
                             run / "sae_features.png")]
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main()
