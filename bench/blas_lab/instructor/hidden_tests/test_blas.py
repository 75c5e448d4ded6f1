import numpy as np
import pytest


@pytest.mark.points(1)
@pytest.mark.time_limit(120)
def test_spectra(submission):
    """spectra of Gram matrices"""
    X = np.random.default_rng(0).normal(size=(600, 300))
    got = submission.spectra(X, 8)
    want = np.stack([np.linalg.eigvalsh(X.T @ X + r * np.eye(300)) for r in range(8)])
    np.testing.assert_allclose(got, want, rtol=1e-8)
