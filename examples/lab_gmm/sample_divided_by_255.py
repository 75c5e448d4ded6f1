# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Pixels divided by 255 before the cast to uint8 (as if they were 0..255 and wanted in [0, 1]):
# every pixel is 0 in either scale, a black image; the feedback points at the pixel scale.
def sample_from_gmm(gmm, pca, label, path):
    z = np.random.multivariate_normal(gmm.means[label], gmm.covs[label])
    sample = (pca.inverse_transform(z[None, :])[0] / 255).reshape(28, 28).astype(np.uint8)
    Image.fromarray(sample).save(Path(path) / "gmm_sample.png")
