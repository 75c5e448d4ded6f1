"""2-D views of the MNIST sample (PCA, tSNE, autoencoder), coloured by true or cluster label.

    python visualization.py --results_path results/<run>                  # true_*.png
    python visualization.py --results_path results/<run> --cluster_label  # cluster_*.png

Writes ``{true|cluster}_pca.png``, ``_tsne.png`` and ``_ae.png`` into the run folder. The tSNE
embedding is computed once (about a minute) and cached with the lab's resources; the
autoencoder view needs ``python load_resources.py`` first.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from load_resources import load_autoencoder, resources_dir
from train import read_config, resolve_run

from common.data import load_mnist
from common.plots import scatter_2d
from common.threads import set_thread_budget

TSNE_FILE = "tsne/sample_train.safetensors"  # under the resources folder (--force clears it)


@dataclass
class VisualizationConfig:
    """Settings of visualization.py."""

    results_path: str = ""
    cluster_label: bool = False
    resources_dir: str | None = None


def tsne_embedding(X: np.ndarray, cache: Path) -> np.ndarray:
    """tSNE of X (N, 784) to (N, 2), after a PCA to 50 dimensions; cached in ``cache``."""
    from safetensors.numpy import load_file, save_file

    if cache.is_file():
        stored = load_file(str(cache))["embedding"]
        if len(stored) == len(X):
            return stored
    from sklearn.decomposition import PCA as SklearnPCA
    from sklearn.manifold import TSNE

    print("tSNE: embedding the digits (about a minute, once; the result is cached) ...")
    reduced = SklearnPCA(50, random_state=0).fit_transform(X)
    embedding = TSNE(2, init="pca", random_state=0).fit_transform(reduced)
    cache.parent.mkdir(parents=True, exist_ok=True)
    save_file({"embedding": np.ascontiguousarray(embedding)}, str(cache))
    return embedding


def cluster_labels(run: Path, X: np.ndarray, images: np.ndarray, ae) -> np.ndarray:
    """The clusters your saved GMM gives the digits (through your PCA, or the autoencoder)."""
    from submission import GMM, PCA

    cfg = read_config(run)
    gmm = GMM.from_pretrained(run / "gmm")
    if cfg.use_pca:
        return gmm.predict(PCA.from_pretrained(run / "pca").transform(X))
    if ae is None:
        raise ValueError(f"{run} is an autoencoder run: run `python load_resources.py` first.")
    from model import ae_encode

    return gmm.predict(ae_encode(ae, images))


def parse_args(argv=None) -> VisualizationConfig:
    d = VisualizationConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results_path", required=True,
                        help="a run folder written by train.py (the plots go there)")
    parser.add_argument("--cluster_label", action="store_true",
                        help="colour by your GMM's clusters (default: by the true digits)")
    parser.add_argument("--resources_dir", default=d.resources_dir,
                        help="where load_resources.py cached its models")
    return VisualizationConfig(**vars(parser.parse_args(argv)))


def main(argv=None) -> list[Path]:
    cfg = parse_args(argv)
    run = resolve_run(cfg.results_path)
    if not run.is_dir():
        raise ValueError(f"--results_path {run} is not a folder; pass a run folder written by "
                         "train.py, e.g. results/2025-01-31_12-00-00.")
    # One compute thread: a second one gains about 1.2x on an idle 2-core machine and loses
    # 3-5x when other programs share the cores (measured on the DDPM training and tSNE).
    set_thread_budget(1)
    images, labels = load_mnist("sample", "train")
    X = images.reshape(len(images), -1).astype(np.float64)
    try:
        ae = load_autoencoder(cfg.resources_dir)
    except Exception as exc:  # noqa: BLE001 - the AE view is optional; say why it is skipped
        print(f"autoencoder view skipped: {exc}")
        ae = None
    tag = "cluster" if cfg.cluster_label else "true"
    colours = cluster_labels(run, X, images, ae) if cfg.cluster_label else labels
    legend = "cluster" if cfg.cluster_label else "digit"
    from sklearn.decomposition import PCA as SklearnPCA

    views = {"pca": SklearnPCA(2).fit_transform(X),
             "tsne": tsne_embedding(X, resources_dir(cfg.resources_dir) / TSNE_FILE)}
    if ae is not None:
        from model import ae_encode

        views["ae"] = ae_encode(ae, images)
    written = []
    for name, points in views.items():
        title = f"{name.upper()} view of the MNIST sample, coloured by {legend}"
        written.append(scatter_2d(points, colours, run / f"{tag}_{name}.png", title=title,
                                  legend_title=legend))
        print(f"wrote {written[-1]}")
    return written


if __name__ == "__main__":
    main()
