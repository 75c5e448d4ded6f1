import numpy as np
import pytest
from PIL import Image

from common.plots import image_grid, plot_curves, scatter_2d


def test_image_grid_writes_a_png(tmp_path):
    imgs = np.random.default_rng(0).random((12, 28, 28))
    titles = [str(i) for i in range(12)]
    path = image_grid(imgs, tmp_path / "sub" / "grid.png", ncols=5, titles=titles)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 100


def test_image_grid_rejects_wrong_titles_and_shapes(tmp_path):
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        image_grid(np.zeros((3, 8, 8)), tmp_path / "g.png", titles=["a", "b"])
    with pytest.raises(ValueError, match="3 dimension"):
        image_grid(np.zeros((8, 8)), tmp_path / "g.png")


def test_curves_and_scatter(tmp_path):
    assert plot_curves({"sgd": [1, 0.5, 0.2], "adam": [1, 0.3, 0.1]}, tmp_path / "c.png").exists()
    pts = np.random.default_rng(0).normal(size=(50, 2))
    assert scatter_2d(pts, np.arange(50) % 10, tmp_path / "s.png", title="t").exists()
    with pytest.raises(ValueError, match="curves is empty"):
        plot_curves({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="labels"):
        scatter_2d(pts, np.arange(49), tmp_path / "s.png")
