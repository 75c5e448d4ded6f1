# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Saves the float image (no conversion to uint8): Pillow cannot write mode F as PNG.
def sample_from_gmm(gmm, pca, label, path):
    z = np.random.multivariate_normal(gmm.means[label], gmm.covs[label])
    image = pca.inverse_transform(z[None, :]).reshape(28, 28) * 255
    Image.fromarray(image).save(Path(path) / "gmm_sample.png")
