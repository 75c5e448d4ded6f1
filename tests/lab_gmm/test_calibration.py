"""The clustering rubric of lab_gmm, calibrated over seeds 0..4: the reference pipeline gets
full credit and KMeans (what EM starts from) gets none."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from grading.scoring import load_rubric

from .conftest import LAB_DIR, hidden_module, load_reference

RUBRIC = load_rubric(LAB_DIR / "instructor" / "rubric.json")


@pytest.fixture(scope="module")
def hidden_helpers():
    return hidden_module("gmm_reference")


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_reference_full_credit_and_kmeans_none(lab_module, hidden_helpers, seed):
    X, _ = hidden_helpers.flat_images("train")
    X_test, y_test = hidden_helpers.flat_images("test")
    pca, gmm = lab_module("train").fit_models(X, 50, 10, 100, seed)
    Z_test = pca.transform(X_test)
    clusters = hidden_helpers.predict(Z_test, gmm.means, gmm.covs, gmm.pi)
    nmi = normalized_mutual_info_score(y_test, clusters)
    accuracy = hidden_helpers.cluster_accuracy(y_test, clusters)
    threshold = RUBRIC["nmi"]
    assert nmi >= threshold.target + 0.02, (nmi, accuracy)
    assert 0.55 <= accuracy <= 0.70
    kmeans = KMeans(10, n_init=1, random_state=seed).fit(pca.transform(X))
    baseline = normalized_mutual_info_score(y_test, kmeans.predict(Z_test))
    assert baseline <= threshold.floor, baseline
    assert threshold.credit(nmi) == threshold.points
    assert threshold.credit(baseline) == 0.0


def test_grade_py_states_the_graders_rule(lab_module):
    shown, graded = lab_module("grade").PERFORMANCE, RUBRIC["nmi"]
    assert (shown.floor, shown.target, shown.points) == (graded.floor, graded.target,
                                                         graded.points)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 4])
def test_graded_pipeline_is_train_fit_models(lab_module, hidden_helpers, seed):
    """The hidden test drives train.fit_models from the grader (em_pipeline): with the reference
    as the submission it fits exactly what train.py fits, so the calibration above holds."""
    X, _ = hidden_helpers.flat_images("train")
    pca, gmm = lab_module("train").fit_models(X, 50, 10, 100, seed)
    fitted = hidden_module("em_pipeline").fit_models(load_reference(), X, 50, 10, 100, seed)
    assert fitted.n_iter == gmm.n_iter_
    for got, want in ((fitted.components, pca.components), (fitted.mean, pca.mean),
                      (fitted.means, gmm.means), (fitted.covs, gmm.covs), (fitted.pi, gmm.pi)):
        np.testing.assert_array_equal(got, want)
