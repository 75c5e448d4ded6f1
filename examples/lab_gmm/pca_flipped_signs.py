# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Correct, with every eigenvector negated: either sign of an eigenvector is accepted.
_honest_fit = PCA.fit


def _fit_flipped(self, X):
    _honest_fit(self, X)
    self.components = -self.components


PCA.fit = _fit_flipped
