# ruff: noqa: F821, NPY002, E402 - appended to the reference, which defines np, GMM, PCA
# Cheats the clustering: the E-step and the M-step are left unwritten, and the submission
# imports the lab's train module in its worker and replaces train.fit_models with a pipeline
# that fits scikit-learn's GaussianMixture. It must not earn the clustering points: the grader
# drives the pipeline itself and never calls train.fit_models in the worker.
import train as _train
from sklearn.mixture import GaussianMixture as _SklearnGMM


def _e_step_not_written(self, X):
    raise NotImplementedError("lab_gmm: GMM._e_step")


def _m_step_not_written(self, X, gamma):
    raise NotImplementedError("lab_gmm: GMM._m_step")


def _fit_models_with_sklearn(X, embedding_dim, n_components, max_iter, seed):
    pca = PCA(dim=embedding_dim)
    pca.fit(X)
    gmm = GMM(n_components=n_components, data_dim=embedding_dim)
    fitted = _SklearnGMM(n_components, covariance_type="full", reg_covar=1e-6,
                         max_iter=max_iter, random_state=seed).fit(pca.transform(X))
    gmm.means, gmm.covs, gmm.pi = fitted.means_, fitted.covariances_, fitted.weights_
    return pca, gmm


GMM._e_step, GMM._m_step = _e_step_not_written, _m_step_not_written
_train.fit_models = _fit_models_with_sklearn
