# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# The M-step without the 1e-6 I: singular covariances on data lying in a subspace.
def _m_step_without_reg(self, X, gamma):
    nk = gamma.sum(axis=0)
    self.pi = nk / X.shape[0]
    self.means = gamma.T @ X / nk[:, None]
    self.covs = np.stack([(gamma[:, k, None] * (X - self.means[k])).T @ (X - self.means[k])
                          / nk[k] for k in range(len(nk))])


GMM._m_step = _m_step_without_reg
