# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Stores the eigenvectors as columns, shape (D, d), instead of rows (d, D).
def _fit_columns(self, X):
    self.mean = X.mean(axis=0)
    centered = X - self.mean
    values, vectors = np.linalg.eigh(centered.T @ centered / (len(X) - 1))
    self.components = vectors[:, np.argsort(values)[::-1][: self.dim]]


PCA.fit = _fit_columns
