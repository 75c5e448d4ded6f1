# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# A correct E-step in density space: pi_k N(x | k) normalised. Right in low dimension; in
# D = 50 every density of a point between clusters underflows to 0 and the row is 0 / 0.
def _e_step_in_density_space(self, X):
    gamma = np.stack([
        self.pi[k] * self._gaussian(X, self.means[k], np.linalg.inv(self.covs[k]),
                                    np.linalg.det(self.covs[k]))
        for k in range(self.n_components)
    ], axis=1)
    return gamma / gamma.sum(axis=1, keepdims=True)


GMM._e_step = _e_step_in_density_space
