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
    # BEGIN SOLUTION
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)
    # END SOLUTION


class RunningMean:
    """The mean of all values passed to ``update`` so far (``mean`` is 0.0 before any)."""

    def __init__(self):
        self.count = 0
        self.mean = 0.0

    def update(self, values):
        """Fold ``values`` (ndarray of shape (M,)) into the mean; return the new mean."""
        # BEGIN SOLUTION
        values = np.asarray(values, dtype=float)
        total = self.mean * self.count + values.sum()
        self.count += values.size
        self.mean = total / self.count
        return self.mean
        # END SOLUTION


def fit_line(x, y):
    """Least-squares slope and intercept of y ~ a x + b; x, y : ndarray of shape (N,)."""
    # BEGIN SOLUTION
    a, b = np.polyfit(x, y, 1)
    return float(a), float(b)
    # END SOLUTION
