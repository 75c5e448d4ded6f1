"""Fit your PCA and GMM on the MNIST sample and save them under results/{datetime}/.

    python train.py --use_pca                      # PCA to 50 dimensions, then a 10-component GMM
    python train.py --use_pca --embedding_dim 20   # another PCA size
    python train.py                                # GMM on the 2-D autoencoder embedding
                                                   # (run load_resources.py first)
    python train.py --use_pca --results_path "../results/{datetime}"   # the original handout's

Writes ``results/{datetime}/`` with ``gmm/`` (config.json + gmm.safetensors), ``pca/`` (with
--use_pca) and ``config.yaml``. The seed makes a run repeatable.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from submission import GMM, PCA

from common.artifacts import new_run_folder
from common.checks import check_positive_int
from common.cli import dataclass_parser
from common.seeding import seed_everything
from common.threads import set_thread_budget

CONFIG_FILE = "config.yaml"
DATETIME = "{datetime}"  # the original handout writes run folders as ../results/{datetime}


@dataclass
class TrainConfig:
    """The settings of one training run (saved as config.yaml in the run folder)."""

    embedding_dim: int = 50
    use_pca: bool = False
    n_components: int = 10
    max_iter: int = 100
    results_path: str = "results"
    seed: int = 123


def fit_models(X: np.ndarray, embedding_dim: int, n_components: int, max_iter: int, seed: int):
    """Fit ``PCA(embedding_dim)`` on X, then ``GMM`` on the projected data.

    Parameters
    ----------
    X : ndarray of shape (N, 784), pixels in [0, 1]
    embedding_dim, n_components, max_iter : the PCA size, the number of clusters, EM iterations
    seed : seeds numpy's global generator, which KMeans inside ``GMM.fit`` draws from

    Returns
    -------
    (pca, gmm) : the fitted models
    """
    np.random.seed(seed)  # noqa: NPY002 - GMM.fit's KMeans uses the global state
    pca = PCA(dim=embedding_dim)
    pca.fit(X)
    gmm = GMM(n_components=n_components, data_dim=embedding_dim)
    gmm.fit(pca.transform(X), max_iter=max_iter)
    return pca, gmm


def runs_root(results_path: str | Path) -> Path:
    """The folder under which train.py creates ``{datetime}/``: ``results_path`` itself, or its
    parent when it ends with the handout's placeholder (``../results/{datetime}``)."""
    path = Path(results_path)
    return path.parent if path.name == DATETIME else path


def resolve_run(results_path: str | Path) -> Path:
    """The run folder that ``--results_path`` names. The original handout's
    ``../results/{datetime}``, typed as written, names the latest run under ``../results``, or,
    when that holds none, under train.py's default folder (``results``).

    Returns the folder; ValueError saying what to pass when there is no such run.
    """
    path = Path(results_path)
    if DATETIME not in path.name:
        return path
    for root in dict.fromkeys((path.parent, Path(TrainConfig.results_path))):
        runs = sorted(p for p in root.glob("*") if (p / CONFIG_FILE).is_file()) \
            if root.is_dir() else []
        if runs:
            print(f"--results_path {results_path}: using the latest run, {runs[-1]}")
            return runs[-1]
    raise ValueError(f"--results_path {results_path}: {{datetime}} stands for a run folder of "
                     f"train.py, and neither {path.parent} nor {TrainConfig.results_path} holds "
                     f"one. Run `python train.py --use_pca` first, or pass the run folder it "
                     "printed.")


def read_config(run: str | Path) -> TrainConfig:
    """The TrainConfig saved in a run folder; ValueError naming the folder when it is not one."""
    path = Path(run) / CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"no {CONFIG_FILE} in {run}: --results_path must be a run folder that "
                         "train.py wrote, e.g. results/2025-01-31_12-00-00.")
    values = yaml.safe_load(path.read_text()) or {}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in known})


HELP = {
    "embedding_dim": "PCA dimension (with --use_pca; the autoencoder's is 2)",
    "use_pca": "embed with your PCA (off: the pretrained autoencoder)",
    "n_components": "number of GMM components (keep it at 10, the number of digits)",
    "max_iter": "the most EM iterations",
    "results_path": "folder under which the run folder {datetime}/ is created (a path ending "
                    "in /{datetime}, as the original handout writes it, means its parent)",
    "seed": "random seed",
}


def parse_args(argv=None) -> TrainConfig:
    parser = dataclass_parser(TrainConfig, HELP, __doc__.splitlines()[0])
    config = TrainConfig(**vars(parser.parse_args(argv)))
    for name in ("embedding_dim", "n_components", "max_iter"):
        check_positive_int(f"--{name}", getattr(config, name))
    if not 1 <= config.embedding_dim <= 784:
        raise ValueError(f"--embedding_dim must be between 1 and 784 (the pixels); received "
                         f"{config.embedding_dim}. Try 50.")
    if config.seed < 0:
        raise ValueError(f"--seed must be >= 0; received {config.seed}.")
    return config


def main(argv=None) -> Path:
    cfg = parse_args(argv)
    # One compute thread: a second one gains about 1.2x on an idle 2-core machine and loses
    # 3-5x when other programs share the cores (measured on the DDPM training and tSNE).
    set_thread_budget(1)
    seed_everything(cfg.seed)
    from common.data import load_mnist

    images, _ = load_mnist("sample", "train")
    X = images.reshape(len(images), -1).astype(np.float64)
    run = new_run_folder(runs_root(cfg.results_path))
    (run / CONFIG_FILE).write_text(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
    print(f"Results will be saved to {run}")
    start = time.perf_counter()
    if cfg.use_pca:
        pca, gmm = fit_models(X, cfg.embedding_dim, cfg.n_components, cfg.max_iter, cfg.seed)
        pca.save_pretrained(run / "pca")
        print(f"Saved the PCA to {run / 'pca'}")
    else:
        from load_resources import load_autoencoder
        from model import ae_encode

        embedded = ae_encode(load_autoencoder(), images)
        gmm = GMM(n_components=cfg.n_components, data_dim=embedded.shape[1])
        gmm.fit(embedded, max_iter=cfg.max_iter)
    gmm.save_pretrained(run / "gmm")
    done = f"{gmm.n_iter_} EM iterations" if hasattr(gmm, "n_iter_") else "EM done"
    print(f"Saved the GMM to {run / 'gmm'} ({done}, {time.perf_counter() - start:.1f} s)")
    print(f"Next: python visualization.py --results_path {run}")
    return run


if __name__ == "__main__":
    main()
