"""Plotting helpers: the Agg backend (no display needed), image grids, curves, 2-D embeddings.

Every helper writes a PNG and returns its path; figures are closed so that long runs do not leak.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from common.checks import check_shape  # noqa: E402


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Save ``fig`` as ``path`` (parents created) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def image_grid(images, path: str | Path, ncols: int = 10, titles: Sequence[str] | None = None,
               title: str | None = None, cmap: str = "gray") -> Path:
    """Draw ``images`` of shape (N, H, W) as a grid, one optional title per image.

    Each image is shown with its own value range unless it already lies in [0, 1].
    """
    images = np.asarray(images)
    check_shape("images", images, (None, None, None))
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images; pass one per image.")
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.45 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        in_unit = img.min() >= 0 and img.max() <= 1
        ax.imshow(img, cmap=cmap, vmin=0 if in_unit else None, vmax=1 if in_unit else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
    if title:
        fig.suptitle(title, y=1.0 + 0.12 / nrows)
    return save_figure(fig, path)


def plot_curves(curves: Mapping[str, Sequence[float]], path: str | Path, xlabel: str = "epoch",
                ylabel: str = "", title: str | None = None, logy: bool = False) -> Path:
    """Draw one line per entry of ``curves`` (name -> values per step)."""
    if not curves:
        raise ValueError("curves is empty; pass at least one named sequence of values.")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def scatter_2d(points, labels, path: str | Path, title: str = "", legend_title: str = "label"
               ) -> Path:
    """Scatter ``points`` of shape (N, 2) coloured by integer ``labels`` of shape (N,)."""
    points = np.asarray(points)
    labels = np.asarray(labels)
    sizes = check_shape("points", points, ("N", 2))
    check_shape("labels", labels, ("N",), sizes)
    fig, ax = plt.subplots(figsize=(6, 5))
    cmap = plt.get_cmap("tab10" if labels.max(initial=0) < 10 else "tab20")
    for value in np.unique(labels):
        mask = labels == value
        ax.scatter(points[mask, 0], points[mask, 1], s=4, color=cmap(int(value) % cmap.N),
                   label=str(value))
    ax.set_title(title)
    ax.legend(title=legend_title, markerscale=3, fontsize=7, loc="best")
    return save_figure(fig, path)
