"""BLAS-bound work: the spectrum of a few Gram matrices."""

import numpy as np


def spectra(X, rounds):
    """Eigenvalues of ``rounds`` perturbed Gram matrices of ``X`` (ndarray of shape (N, D))."""
    # ===== START OF YOUR CODE =====
    raise NotImplementedError("blas_lab: spectra")
    # ===== END OF YOUR CODE =====
