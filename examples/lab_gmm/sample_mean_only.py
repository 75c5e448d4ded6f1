# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Saves the mean of the component instead of a random draw (min-max scaled like the seed lab).
def sample_from_gmm(gmm, pca, label, path):
    image = pca.inverse_transform(gmm.means[label][None, :]).reshape(28, 28)
    image = (image - image.min()) / (image.max() - image.min()) * 255
    Image.fromarray(image.astype(np.uint8)).save(Path(path) / "gmm_sample.png")
