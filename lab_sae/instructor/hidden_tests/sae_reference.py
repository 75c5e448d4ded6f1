"""Trusted reference of lab_sae for the hidden tests: runs in the grader process only.

Everything here is computed from plain tensors and arrays that the tests hold; nothing calls
the student's code.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from common.data import load_mnist

SEED = int(os.environ.get("LAB_SAE_GRADER_SEED", "0"))
# The graded training run (grade.py shows the same settings: trainer.GRADED_RUN).
GRADED_RUN = {"n_saes": 1, "n_latents": 256, "k": 50, "epochs": 15, "batch_size": 64,
              "lr": 3e-3, "consistency_weight": 0.05, "device": "cpu"}
PARAM_SHAPES = {"W_enc": ("S", "D", "L"), "b_enc": ("S", "L"), "W_dec": ("S", "L", "D"),
                "b_pre": ("S", "D")}


def flat_images(split: str) -> np.ndarray:
    """The MNIST sample's ``split`` images as float32 (N, 784)."""
    images, _ = load_mnist("sample", split)
    return images.reshape(len(images), -1).astype(np.float32)


def topk(pre_acts: torch.Tensor, k: int) -> torch.Tensor:
    values, indices = torch.topk(pre_acts, k, dim=-1)
    return torch.zeros_like(pre_acts).scatter(-1, indices, torch.relu(values))


def forward(params: dict[str, torch.Tensor], x: torch.Tensor, k: int, dtype=torch.float64):
    """(pre_acts, latents, recons) of the SAEs ``params`` on x (B, D), computed in ``dtype``."""
    p = {name: torch.as_tensor(v).to(dtype) for name, v in params.items()}
    x = torch.as_tensor(x).to(dtype)
    pre = torch.baddbmm(p["b_enc"].unsqueeze(1), x.unsqueeze(0) - p["b_pre"].unsqueeze(1),
                        p["W_enc"])
    latents = topk(pre, k)
    recons = torch.baddbmm(p["b_pre"].unsqueeze(1), latents, p["W_dec"])
    return pre, latents, recons


def loss_terms(x: torch.Tensor, recons: torch.Tensor, weight: float) -> dict[str, torch.Tensor]:
    x = x.double()
    recons = recons.double()
    mean = recons.mean(0)
    mse = (recons - x).square().mean(dim=(1, 2))
    consistency = (recons - mean).square().mean(dim=(1, 2))
    return {"mse": mse, "consistency": consistency,
            "ensemble_mse": (mean - x).square().mean(),
            "loss": mse.sum() + weight * consistency.sum()}


def loss_gradient(x: torch.Tensor, recons: torch.Tensor, weight: float) -> torch.Tensor:
    """d loss / d recons: 2 / (B D) * ((r_s - x) + weight * (r_s - mean_s r))."""
    x = x.double()
    recons = recons.double()
    n = x.numel()
    return 2.0 / n * ((recons - x) + weight * (recons - recons.mean(0)))


def steps_since_fired(counter: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
    fired = (latents != 0).any(dim=1)
    return torch.where(fired, torch.zeros_like(counter), counter + 1)


def pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation in float64; 0.0 where either row is constant."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xc = x - x[..., :1]
    yc = y - y[..., :1]
    xc = xc - xc.mean(axis=-1, keepdims=True)
    yc = yc - yc.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    defined = denominator > 0
    r = (xc * yc).sum(axis=-1) / np.where(defined, denominator, 1.0)
    return np.where(defined, np.clip(r, -1.0, 1.0), 0.0)


def reinit_expected(params: dict[str, torch.Tensor], x: torch.Tensor, dead: torch.Tensor,
                    k: int) -> dict[str, torch.Tensor]:
    """The parameters after re-initialising the ``dead`` features (the handout's rule)."""
    out = {name: v.clone().double() for name, v in params.items()}
    _, _, recons = forward(params, x, k, dtype=torch.float32)
    errors = (recons.double() - x.double()).square().sum(-1)
    for s in range(dead.shape[0]):
        features = torch.nonzero(dead[s]).flatten()
        if len(features) == 0:
            continue
        order = torch.argsort(errors[s], descending=True, stable=True)
        chosen = x.double()[order[torch.arange(len(features)) % len(order)]]
        centred = chosen - out["b_pre"][s]
        u = centred / centred.norm(dim=-1, keepdim=True)
        alive = ~dead[s]
        scale = out["W_enc"][s][:, alive].norm(dim=0).mean() if alive.any() else 1.0
        out["W_dec"][s, features] = u
        out["W_enc"][s][:, features] = 0.2 * scale * u.T
        out["b_enc"][s, features] = 0.0
    return out


def dead_entry_masks(dead: torch.Tensor, shapes: dict[str, tuple[int, ...]]
                     ) -> dict[str, torch.Tensor]:
    """Boolean masks of the entries of each parameter that belong to a dead feature."""
    S, L = dead.shape
    masks = {"W_enc": dead.unsqueeze(1).expand(shapes["W_enc"]),
             "b_enc": dead.clone(),
             "W_dec": dead.unsqueeze(2).expand(shapes["W_dec"]),
             "b_pre": torch.zeros(shapes["b_pre"], dtype=torch.bool)}
    return {name: m.clone() for name, m in masks.items()}


def heldout_report(params: dict[str, np.ndarray], k: int, X_train: np.ndarray,
                   X_test: np.ndarray) -> dict[str, float]:
    """Held-out metrics of a trained ensemble (mean over its SAEs), with the PCA-50 reference."""
    _, latents, recons = forward(params, torch.from_numpy(X_test), k)
    recons = recons.numpy()
    r = np.stack([pearson(X_test, recons[s]) for s in range(len(recons))])
    mse = ((recons - X_test[None].astype(np.float64)) ** 2).mean(axis=(1, 2))
    fired = (latents != 0).any(dim=1).numpy()
    x_fit = X_train.astype(np.float64)
    mu = x_fit.mean(axis=0)
    _, _, vt = np.linalg.svd(x_fit - mu, full_matrices=False)
    pca = (X_test.astype(np.float64) - mu) @ vt[:50].T @ vt[:50] + mu
    return {"pearson": float(r.mean()), "mse": float(mse.mean()),
            "pca50_mse": float(((pca - X_test) ** 2).mean()),
            "dead_fraction": float((~fired).mean())}
