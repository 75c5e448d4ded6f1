# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Keeps the eigenvectors of the d smallest eigenvalues (np.linalg.eigh sorts them ascending).
def _fit_ascending(self, X):
    self.mean = X.mean(axis=0)
    centered = X - self.mean
    _, vectors = np.linalg.eigh(centered.T @ centered / (len(X) - 1))
    self.components = vectors[:, : self.dim].T


PCA.fit = _fit_ascending
