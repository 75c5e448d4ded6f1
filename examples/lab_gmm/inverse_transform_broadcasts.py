# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# PCA.inverse_transform (given code) returns an array of shape (20000, 1, 1) for a batch of
# rows: subtracted from X (200, 30) it would broadcast into a 20000 x 200 x 30 array (about
# 1 GB) in the grader. It must be refused by its shape before any arithmetic. One row (what
# sample_from_gmm passes) still gets the right pixels, so only the reconstruction test fails.
_honest_inverse_transform = PCA.inverse_transform


def _inverse_transform_broadcasting(self, X_pca):
    back = _honest_inverse_transform(self, X_pca)
    return back if len(X_pca) == 1 else np.zeros((20000, 1, 1))


PCA.inverse_transform = _inverse_transform_broadcasting
