# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Cheats the clustering: the E-step and the M-step are left unwritten and GMM.fit (given code)
# fits scikit-learn's GaussianMixture instead of running EM. It must not earn the clustering
# points: the grader runs EM itself, with the student's _e_step and _m_step.
from sklearn.mixture import GaussianMixture as _SklearnGMM


def _e_step_not_written(self, X):
    raise NotImplementedError("lab_gmm: GMM._e_step")


def _m_step_not_written(self, X, gamma):
    raise NotImplementedError("lab_gmm: GMM._m_step")


def _fit_with_sklearn(self, X, max_iter=100, tol=1e-3, init_labels=None, random_state=None,
                      verbose=False):
    fitted = _SklearnGMM(self.n_components, covariance_type="full", reg_covar=1e-6,
                         max_iter=max_iter, random_state=random_state).fit(X)
    self.means, self.covs, self.pi = fitted.means_, fitted.covariances_, fitted.weights_
    self.n_iter_, self.converged_ = fitted.n_iter_, fitted.converged_
    return self


GMM._e_step, GMM._m_step, GMM.fit = _e_step_not_written, _m_step_not_written, _fit_with_sklearn
