# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Saves the 784 pixels as a 1 x 784 image instead of 28 x 28.
def sample_from_gmm(gmm, pca, label, path):
    z = np.random.multivariate_normal(gmm.means[label], gmm.covs[label])
    pixels = np.clip(pca.inverse_transform(z[None, :]), 0, 1)
    Image.fromarray((pixels * 255).astype(np.uint8)).save(Path(path) / "gmm_sample.png")
