# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Loops over samples and components in Python: right, but far too slow at N = 20,000.
def _e_step_looping(self, X):
    n, d = X.shape
    log_det = [np.linalg.slogdet(c)[1] for c in self.covs]
    log_w = np.empty((n, self.n_components))
    for i in range(n):
        for k in range(self.n_components):
            diff = X[i] - self.means[k]
            maha = diff @ np.linalg.solve(self.covs[k], diff)  # a solve per sample and component
            log_w[i, k] = (np.log(self.pi[k]) - 0.5 * (maha + log_det[k]
                                                      + d * np.log(2 * np.pi)))
    log_w -= log_w.max(axis=1, keepdims=True)
    gamma = np.exp(log_w)
    return gamma / gamma.sum(axis=1, keepdims=True)


GMM._e_step = _e_step_looping
