"""Fixture lab: softmax, a running mean, and a least-squares line."""

import numpy as np


def softmax(z):
    """Row-wise softmax.

    Parameters
    ----------
    z : ndarray of shape (N, K)

    Returns
    -------
    p : ndarray of shape (N, K), rows summing to 1; z is not modified.
    """
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("fixture_lab: softmax")
    # ===== END OF YOUR CODE =====


class RunningMean:
    """The mean of all values passed to ``update`` so far (``mean`` is 0.0 before any)."""

    def __init__(self):
        self.count = 0
        self.mean = 0.0

    def update(self, values):
        """Fold ``values`` (ndarray of shape (M,)) into the mean; return the new mean."""
        # ===== START OF YOUR CODE =====
        raise NotImplementedError("fixture_lab: RunningMean.update")
        # ===== END OF YOUR CODE =====


def fit_line(x, y):
    """Least-squares slope and intercept of y ~ a x + b; x, y : ndarray of shape (N,)."""
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("fixture_lab: fit_line")
    # ===== END OF YOUR CODE =====
