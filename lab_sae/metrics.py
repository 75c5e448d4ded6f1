"""Reconstruction metrics of an SAE ensemble, accumulated batch by batch.

For inputs x (N, D), one SAE's reconstructions r (N, D) and the mean image mu of x:

* ``mse``: mean over rows and pixels of (x - r)^2;
* ``nmse``: normalised MSE, sum (x - r)^2 / sum (x - mu)^2 (1.0 = no better than the mean image);
* ``fve``: fraction of variance explained, 1 - (summed per-pixel variance of x - r) / (summed
  per-pixel variance of x), as in dictionary_learning's evaluation;
* ``pearson``: mean over rows of the Pearson correlation of x_n with r_n;
* ``l0``: mean number of non-zero latents per row (at most k);
* ``dead_fraction``: fraction of features that are zero on every row seen.

Each is a list with one value per SAE; ``ensemble`` holds the same reconstruction metrics for the
ensemble's mean reconstruction ``r.mean(0)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

PER_SAE = ("mse", "nmse", "fve", "pearson", "l0", "dead_fraction")
ENSEMBLE = ("mse", "nmse", "fve", "pearson")


class ReconstructionStats:
    """Sums over batches from which :meth:`result` computes the metrics above.

    Parameters
    ----------
    pearson : function (x (..., D), y (..., D)) -> (...) row-wise Pearson correlation, e.g. your
        ``submission.pearson_correlation``
    """

    def __init__(self, pearson: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        self.pearson = pearson
        self.n = 0
        self.sums: dict[str, torch.Tensor] = {}

    def _add(self, name: str, value: torch.Tensor) -> None:
        value = value.detach().to("cpu", torch.float64)
        self.sums[name] = self.sums[name] + value if name in self.sums else value

    @torch.no_grad()
    def add(self, x: torch.Tensor, recons: torch.Tensor, latents: torch.Tensor | None) -> None:
        """Fold in one batch: x (B, D), recons (S, B, D), latents (S, B, L) or None."""
        x = x.detach().float()
        recons = torch.cat([recons.detach().float(), recons.detach().float().mean(0,
                                                                                 keepdim=True)])
        residual = x.unsqueeze(0) - recons  # (S + 1, B, D); the last one is the ensemble's
        self.n += x.shape[0]
        self._add("x", x.sum(0))
        self._add("x2", x.square().sum(0))
        self._add("res", residual.sum(1))
        self._add("res2", residual.square().sum(1))
        self._add("pearson", torch.as_tensor(self.pearson(x.unsqueeze(0).expand_as(recons),
                                                          recons)).sum(-1))
        if latents is not None:
            active = latents.detach() != 0
            self._add("l0", active.sum(dim=(1, 2)))
            fired = active.any(dim=1)
            self.sums["fired"] = self.sums["fired"] | fired.cpu() if "fired" in self.sums \
                else fired.cpu()

    def result(self) -> dict:
        """The metrics (plain floats and lists of floats, JSON-ready)."""
        if self.n == 0:
            raise ValueError("ReconstructionStats.result: no batch was added.")
        n, s = self.n, self.sums
        total_var = (s["x2"] - s["x"].square() / n).sum()  # = sum (x - mu)^2
        sq_err = s["res2"].sum(-1)
        residual_var = (s["res2"] - s["res"].square() / n).sum(-1)
        values = {"mse": sq_err / (n * s["x"].numel()), "nmse": sq_err / total_var,
                  "fve": 1.0 - residual_var / total_var, "pearson": s["pearson"] / n}
        out = {name: [float(v) for v in values[name][:-1]] for name in ENSEMBLE}
        if "l0" in s:
            out["l0"] = [float(v) for v in s["l0"] / n]
            out["dead_fraction"] = [float(v) for v in (~s["fired"]).double().mean(-1)]
        out["ensemble"] = {name: float(values[name][-1]) for name in ENSEMBLE}
        return out


def mean_image_mse(x: np.ndarray, mean_image: np.ndarray | None = None) -> float:
    """MSE of predicting every row of ``x`` (N, D) by ``mean_image`` (default: the mean of x)."""
    x = np.asarray(x, dtype=np.float64)
    mu = x.mean(axis=0) if mean_image is None else np.asarray(mean_image, dtype=np.float64)
    return float(np.mean((x - mu) ** 2))


def pca_reconstruction(x_fit: np.ndarray, x: np.ndarray, n_components: int) -> np.ndarray:
    """Reconstruction of ``x`` by the top ``n_components`` principal directions of ``x_fit``."""
    x_fit = np.asarray(x_fit, dtype=np.float64)
    mu = x_fit.mean(axis=0)
    centred = x_fit - mu
    _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    basis = vectors[:, ::-1][:, :n_components].T
    return (np.asarray(x, dtype=np.float64) - mu) @ basis.T @ basis + mu
