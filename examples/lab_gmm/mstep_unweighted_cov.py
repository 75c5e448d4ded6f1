# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Covariances that ignore the responsibilities (every sample counts fully for every component).
def _m_step_unweighted(self, X, gamma):
    nk = gamma.sum(axis=0)
    self.pi = nk / X.shape[0]
    self.means = gamma.T @ X / nk[:, None]
    d = X.shape[1]
    self.covs = np.stack([(X - m).T @ (X - m) / X.shape[0] + 1e-6 * np.eye(d)
                          for m in self.means])


GMM._m_step = _m_step_unweighted
