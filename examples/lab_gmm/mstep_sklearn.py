# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Cheats inside a step: the M-step is right on small data (the M-step tests), but on the
# 4,000 training digits in PCA-50 it ignores gamma and sets the parameters of scikit-learn's
# GaussianMixture fitted on X. It must not earn the clustering points: the grader checks each
# M-step of the EM against the update of the gamma it was given.
from sklearn.mixture import GaussianMixture as _SklearnGMM

_honest_m_step = GMM._m_step
_fits = {}


def _m_step_from_sklearn_on_the_digits(self, X, gamma):
    if X.shape != (4000, 50):
        return _honest_m_step(self, X, gamma)
    key = hash(X.tobytes())
    if key not in _fits:
        _fits[key] = _SklearnGMM(gamma.shape[1], covariance_type="full", reg_covar=1e-6,
                                 random_state=0).fit(X)
    fitted = _fits[key]
    self.means, self.covs, self.pi = fitted.means_, fitted.covariances_, fitted.weights_


GMM._m_step = _m_step_from_sklearn_on_the_digits
