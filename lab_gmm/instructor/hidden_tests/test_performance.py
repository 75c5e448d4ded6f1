"""Hidden test of the clustering performance (30 points, partial credit).

The lab's fixed pipeline (train.fit_models: the student's PCA to 50 dimensions, then the
student's GMM fitted by EM) runs in the sandbox on the 4,000 training digits, without labels.
The grader reads the fitted arrays back and scores the clusters of the 1,000 test digits, which
the sandbox never sees, by normalized mutual information (NMI) with the true digits.
"""

import numpy as np
import pytest
from gmm_reference import cluster_accuracy, flat_images, predict
from problems import SEED
from sklearn.metrics import normalized_mutual_info_score

EMBEDDING_DIM, N_COMPONENTS, MAX_ITER = 50, 10, 100


def _array(remote, name, shape):
    value = getattr(remote, name)
    if not isinstance(value, np.ndarray) or value.shape != shape:
        got = value.shape if isinstance(value, np.ndarray) else type(value).__name__
        raise AssertionError(f"after fitting, {name} must be an array of shape {shape}; got {got}")
    if not np.isfinite(value).all():
        raise AssertionError(f"after fitting, {name} holds NaN or infinite values")
    return value


@pytest.mark.points(30)
@pytest.mark.time_limit(150)
@pytest.mark.hint("Check the E-step and M-step tests first: the clustering is as good as EM is "
                  "correct. A correct GMM on PCA-50 reaches NMI of about 0.6.")
def test_clustering_performance(submission, fixed, rubric, credit):
    """Clustering performance: NMI of your PCA-50 + GMM clusters on held-out digits"""
    X_train, _ = flat_images("train")
    X_test, y_test = flat_images("test")
    pca, gmm = fixed("train").fit_models(X_train, EMBEDDING_DIM, N_COMPONENTS, MAX_ITER, SEED)
    components = _array(pca, "components", (EMBEDDING_DIM, X_train.shape[1]))
    mean = _array(pca, "mean", (X_train.shape[1],))
    means = _array(gmm, "means", (N_COMPONENTS, EMBEDDING_DIM))
    covs = _array(gmm, "covs", (N_COMPONENTS, EMBEDDING_DIM, EMBEDDING_DIM))
    pi = _array(gmm, "pi", (N_COMPONENTS,))
    try:
        clusters = predict((X_test - mean) @ components.T, means, covs, pi)
    except ValueError as exc:
        raise AssertionError(f"the fitted GMM cannot be evaluated: {exc}") from None
    nmi = float(normalized_mutual_info_score(y_test, clusters))
    accuracy = cluster_accuracy(y_test, clusters)
    credit.partial("nmi", nmi, rubric)
    credit.explain(received=f"NMI = {nmi:.3f} (clustering accuracy {accuracy:.3f}) on 1,000 "
                            "held-out digits")
