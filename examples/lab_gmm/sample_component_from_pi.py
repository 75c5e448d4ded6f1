# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Draws the component from the mixing weights instead of using `label`.
def sample_from_gmm(gmm, pca, label, path):
    k = np.random.choice(len(gmm.pi), p=gmm.pi)
    z = np.random.multivariate_normal(gmm.means[k], gmm.covs[k])
    image = np.clip(pca.inverse_transform(z[None, :]).reshape(28, 28), 0, 1)
    Image.fromarray((image * 255).astype(np.uint8)).save(Path(path) / "gmm_sample.png")
