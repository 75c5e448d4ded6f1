"""Prepare the lab's data: scikit-learn's 8x8 digits, split 1077 / 360 / 360 and cached.

    python load_resources.py

Nothing is downloaded: the digits ship with scikit-learn. The split (test 20% with
random_state 42, then 360 of the rest for validation; StandardScaler fitted on the training
rows) is decoded once and cached under the data dir (``$LABS_DATA_DIR``, default
``~/.cache/mnist-course-labs``), so every script sees the same rows.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

import numpy as np

from common.data import load_digits_split, resolve_data_dir


@dataclass
class ResourceArgs:
    """Settings of one ``load_resources.py`` run (every field is a command-line flag)."""

    data_dir: str = ""


def parse_args(argv: list[str] | None = None) -> ResourceArgs:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default=ResourceArgs.data_dir,
                        help="data dir for the decode cache (default: $LABS_DATA_DIR or "
                             "~/.cache/mnist-course-labs)")
    return ResourceArgs(**vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data_dir = args.data_dir or None
    split = load_digits_split(data_dir=data_dir)
    print(f"data dir: {resolve_data_dir(data_dir)}")
    for name in ("train", "val", "test"):
        X, y = getattr(split, f"X_{name}"), getattr(split, f"y_{name}")
        counts = " ".join(f"{c:3d}" for c in np.bincount(y, minlength=10))
        print(f"{name:<5} X {X.shape} {X.dtype}, y {y.shape}; per digit: {counts}")
    print(f"train features: mean {split.X_train.mean():+.3f}, std {split.X_train.std():.3f} "
          "(standardised on the training rows only)")


if __name__ == "__main__":
    main()
