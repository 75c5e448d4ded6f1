"""The grader-driven EM pipeline (hidden em_pipeline): a step that departs from EM is caught at
any iteration, in full at the iterations it always recomputes and by the spot checks elsewhere."""

from __future__ import annotations

import types

import numpy as np
import pytest

from .conftest import hidden_module, load_reference

DIM, K, MAX_ITER = 10, 5, 30


@pytest.fixture(scope="module")
def pipeline():
    return hidden_module("em_pipeline")


@pytest.fixture(scope="module")
def X():
    return hidden_module("gmm_reference").flat_images("train")[0][:1500]


def submission_whose(step: str, iteration: int, change):
    """The reference, except that ``step`` ("e" or "m") goes through ``change`` at EM iteration
    ``iteration`` (M-step 0 is the one on the KMeans labels)."""
    ref = load_reference()

    class GMM(ref.GMM):
        calls = {"e": 0, "m": -1}

        def _e_step(self, X):
            GMM.calls["e"] += 1
            gamma = super()._e_step(X)
            return change(gamma) if step == "e" and GMM.calls["e"] == iteration else gamma

        def _m_step(self, X, gamma):
            GMM.calls["m"] += 1
            super()._m_step(X, gamma)
            if step == "m" and GMM.calls["m"] == iteration:
                change(self)

    return types.SimpleNamespace(PCA=ref.PCA, GMM=GMM)


def fit(pipeline, X, submission, seed=0):
    return pipeline.fit_models(submission, X, DIM, K, MAX_ITER, 0,
                               rng=np.random.default_rng(seed))


def test_the_reference_passes_every_check(pipeline, X):
    fitted = fit(pipeline, X, load_reference())
    assert 3 < fitted.n_iter < MAX_ITER


def test_full_checks_at_the_first_iterations_and_the_last(pipeline):
    full = [i for i in range(20) if pipeline.checked_in_full(i, last=False)]
    assert full == [0, 1, 2]
    assert pipeline.checked_in_full(13, last=True)


def _shift_one_cov_entry(model):
    model.covs = model.covs.copy()
    model.covs[2, 3, 3] *= 1.05


def _swap_means(model):
    model.means = model.means[::-1].copy()


def _sharpen(gamma):  # hard assignments on 5% of the rows
    gamma = gamma.copy()
    rows = np.arange(0, len(gamma), 20)
    gamma[rows] = np.eye(gamma.shape[1])[gamma[rows].argmax(axis=1)]
    return gamma


@pytest.mark.parametrize("step, change", [("m", _shift_one_cov_entry), ("m", _swap_means),
                                          ("e", _sharpen)])
@pytest.mark.parametrize("iteration", [2, 4])  # a fully checked iteration, a spot-checked one
def test_a_step_that_departs_from_em_is_caught(pipeline, X, step, change, iteration):
    with pytest.raises(AssertionError, match=f"at EM iteration {iteration},"):
        fit(pipeline, X, submission_whose(step, iteration, change))


@pytest.mark.parametrize("seed", range(5))
def test_the_spot_check_of_covariances_catches_a_small_change_on_every_draw(pipeline, X, seed):
    """1% of one variance, far below what would change a clustering (the full check's
    tolerance is 0.01%; along random directions a change of 0.1% is caught 49 times in 50)."""
    def nudge(model):
        model.covs = model.covs.copy()
        model.covs[1, 0, 0] *= 1.01

    with pytest.raises(AssertionError, match="self.covs"):
        fit(pipeline, X, submission_whose("m", 3, nudge), seed=seed)
