"""Hidden test of the clustering performance (30 points, partial credit).

The lab's fixed pipeline (train.fit_models: the student's PCA to 50 dimensions, then a GMM fitted
by EM with the student's E-step and M-step) runs on the 4,000 training digits, without labels.
The grader drives it (em_pipeline): only PCA.fit, _e_step and _m_step run in the sandbox, each
call's result checked; the projection, the KMeans start and the EM loop are the grader's own
code. It then scores the clusters of the 1,000 test digits, which the sandbox never sees, by
normalized mutual information (NMI) with the true digits.
"""

import em_pipeline
import pytest
from gmm_reference import cluster_accuracy, flat_images, predict
from problems import SEED
from sklearn.metrics import normalized_mutual_info_score
from threadpoolctl import threadpool_limits

EMBEDDING_DIM, N_COMPONENTS, MAX_ITER = 50, 10, 100


@pytest.mark.points(30)
@pytest.mark.time_limit(150)
@pytest.mark.slow_hint("This run calls your PCA.fit once and _e_step / _m_step about 30 times each "
                       "on 4,000 digits in 50 dimensions: a loop over samples (instead of one "
                       "matrix product per component), or an eigendecomposition of the 784 x 784 "
                       "covariance repeated per component, is what usually makes it slow.")
@pytest.mark.hint("Check the E-step and M-step tests first: the clustering is as good as EM is "
                  "correct. A correct GMM on PCA-50 reaches NMI of about 0.6.")
def test_clustering_performance(submission, rubric, credit):
    """Clustering performance: NMI of your PCA-50 + GMM clusters on held-out digits"""
    X_train, _ = flat_images("train")
    X_test, y_test = flat_images("test")
    with threadpool_limits(1):  # the grader's share of a loaded machine; same numbers as train.py
        fitted = em_pipeline.fit_models(submission, X_train, EMBEDDING_DIM, N_COMPONENTS,
                                        MAX_ITER, SEED)
        clusters = predict(fitted.embed(X_test), fitted.means, fitted.covs, fitted.pi)
    nmi = float(normalized_mutual_info_score(y_test, clusters))
    accuracy = cluster_accuracy(y_test, clusters)
    credit.partial("nmi", nmi, rubric)
    credit.explain(received=f"NMI = {nmi:.3f} (clustering accuracy {accuracy:.3f}) on 1,000 "
                            f"held-out digits, after {fitted.n_iter} EM iterations")
