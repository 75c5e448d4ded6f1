"""The data of the lab: a training pool of all digits and held-out images of the target digits.

From the embedded 5,000-image MNIST sample (4,000 training and 1,000 test images, pixels in
[0, 1]):

* training pool: the first ``per_digit`` training images of every digit (300 each by default,
  3,000 images; the target digits are 20% of it): the samples that get a weight;
* validation set: 100 other training images of each target digit (those ranked 300 to 399
  among their digit; 200 for [6, 7]): the validation loss L_V that the hypergradient lowers;
* test set: the target digits of the test split (200 for [6, 7]), never used in training: the
  held-out loss that tells whether the learned weights helped.

``pool_targets=False`` gives the original assignment's split, a pool of the other digits only
(2,400 images for [6, 7]); validation and test sets are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.data import load_mnist

PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081
DEFAULT_PER_DIGIT = 300
VAL_START, VAL_PER_DIGIT = 300, 100


@dataclass
class SelectionData:
    """Images (N, 28, 28) in [0, 1] and their int64 labels (N,) for each part (the test set is
    optional)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    target_digits: tuple[int, ...]
    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None

    def __repr__(self) -> str:
        test = 0 if self.test_labels is None else len(self.test_labels)
        return (f"SelectionData(train={len(self.train_labels)}, val={len(self.val_labels)}, "
                f"test={test}, target_digits={list(self.target_digits)})")

    def subset(self, per_digit: int) -> SelectionData:
        """The same data with only the first ``per_digit`` pool images of each digit."""
        keep = first_per_digit(self.train_labels, per_digit)
        return SelectionData(self.train_images[keep], self.train_labels[keep], self.val_images,
                             self.val_labels, self.target_digits, self.test_images,
                             self.test_labels)

    @property
    def base_rate(self) -> float:
        """The share of target digits in the training pool."""
        return float(np.isin(self.train_labels, self.target_digits).mean())


def check_target_digits(target_digits) -> tuple[int, ...]:
    """``target_digits`` as a sorted tuple of distinct digits 0..9 (ValueError otherwise)."""
    try:
        digits = tuple(sorted({int(d) for d in target_digits}))
    except (TypeError, ValueError):
        digits = ()
    if not digits or any(d < 0 or d > 9 for d in digits) or len(digits) == 10:
        raise ValueError(f"target_digits must be a non-empty list of distinct digits 0..9 (not "
                         f"all ten), e.g. [6, 7]; received {target_digits!r}.")
    return digits


def first_per_digit(labels: np.ndarray, per_digit: int, start: int = 0) -> np.ndarray:
    """Indices of the samples ranked ``start`` .. ``start + per_digit - 1`` among their digit,
    in their original order."""
    keep = np.zeros(len(labels), dtype=bool)
    for digit in np.unique(labels):
        keep[np.flatnonzero(labels == digit)[start:start + per_digit]] = True
    return np.flatnonzero(keep)


def selection_data(target_digits=(6, 7), per_digit: int = DEFAULT_PER_DIGIT,
                   source: str = "sample", pool_targets: bool = True) -> SelectionData:
    """The training pool, validation and test sets for ``target_digits`` (see the module doc).

    Parameters
    ----------
    target_digits : list of int
    per_digit : int, default 300
        Training-pool images per digit (1 .. 300; the validation set starts at rank 300).
    source : {"sample", "full"}
        ``common.data.load_mnist``'s source; "full" needs the full MNIST files.
    pool_targets : bool, default True
        False: the target digits are left out of the pool (the original assignment's split).
    """
    digits = check_target_digits(target_digits)
    if isinstance(per_digit, bool) or not isinstance(per_digit, int) or not (
            1 <= per_digit <= VAL_START):
        raise ValueError(f"per_digit must be an integer in 1..{VAL_START} (images ranked "
                         f"{VAL_START} and up are the validation set); received {per_digit!r}.")
    images, labels = load_mnist(source, "train")
    pool = first_per_digit(labels, per_digit)
    if not pool_targets:
        pool = pool[~np.isin(labels[pool], digits)]
    val = first_per_digit(labels, VAL_PER_DIGIT, start=VAL_START)
    val = val[np.isin(labels[val], digits)]
    test_images, test_labels = load_mnist(source, "test")
    test = np.flatnonzero(np.isin(test_labels, digits))
    return SelectionData(images[pool], labels[pool], images[val], labels[val], digits,
                         test_images[test], test_labels[test])


def normalise(images: np.ndarray):
    """Images (N, 28, 28) in [0, 1] as the network's float32 input tensor, standardised."""
    import torch

    return (torch.as_tensor(np.asarray(images, dtype=np.float32)) - PIXEL_MEAN) / PIXEL_STD
