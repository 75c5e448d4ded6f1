"""The pretrained helpers of the lab (given, not graded): the autoencoder and the DDPMs.

* :class:`AE` -- an MLP autoencoder with a 2-D bottleneck: the non-PCA embedding of the digits.
* :class:`PCADenoiser` -- a class-conditional DDPM in the PCA-50 space of the digits
  (T = 1000, linear betas 1e-4..0.02, epsilon prediction). It trains in minutes on a CPU.
* :class:`ClassUNet` -- a class-conditional DDPM on the 28 x 28 pixels (a diffusers UNet), for
  a GPU (``python load_resources.py --device cuda --ddpm_space pixel``).

All are ``PyTorchModelHubMixin`` models: ``save_pretrained(folder)`` writes config.json +
model.safetensors, ``from_pretrained(folder or hub repo id)`` reads them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

PIXELS = 28 * 28


class AE(nn.Module, PyTorchModelHubMixin):
    """MLP autoencoder: 784 -> 256 -> 64 -> ``embedding_dim`` -> 64 -> 256 -> 784 (logits)."""

    def __init__(self, embedding_dim: int = 2, hidden: int = 256):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(PIXELS, hidden), nn.ReLU(), nn.Linear(hidden, 64),
                                     nn.ReLU(), nn.Linear(64, embedding_dim))
        self.decoder = nn.Sequential(nn.Linear(embedding_dim, 64), nn.ReLU(),
                                     nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, PIXELS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x : (N, 784) pixels in [0, 1] -> reconstruction logits (N, 784)."""
        return self.decoder(self.encoder(x))


@torch.no_grad()
def ae_encode(ae: AE, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Embed ``images`` of shape (N, 28, 28) or (N, 784), in [0, 1]: ndarray (N, embedding_dim)."""
    ae.eval()
    device = next(ae.parameters()).device
    flat = torch.as_tensor(np.asarray(images, dtype=np.float32).reshape(len(images), -1))
    parts = [ae.encoder(flat[i: i + batch_size].to(device)).cpu()
             for i in range(0, len(flat), batch_size)]
    return torch.cat(parts).numpy().astype(np.float64)


def linear_betas(n_steps: int = 1000, start: float = 1e-4, end: float = 0.02) -> torch.Tensor:
    """The DDPM noise schedule beta_1..beta_T (Ho et al. 2020), shape (T,)."""
    return torch.linspace(start, end, n_steps, dtype=torch.float64)


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer steps t (N,) -> (N, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class PCADenoiser(nn.Module, PyTorchModelHubMixin):
    """Class-conditional DDPM noise predictor eps(x_t, t, y) in a whitened PCA space.

    The buffers hold the PCA (``pca_mean`` (784,), ``pca_components`` (d, 784)) and the
    per-coordinate scale that makes the training data unit-variance, so that a saved model
    maps its samples back to pixels by itself.
    """

    def __init__(self, data_dim: int = 50, n_classes: int = 10, hidden: int = 512,
                 n_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        super().__init__()
        self.data_dim, self.n_classes, self.n_steps = data_dim, n_classes, n_steps
        self.beta_start, self.beta_end = beta_start, beta_end
        self.class_embedding = nn.Embedding(n_classes, 64)
        self.net = nn.Sequential(
            nn.Linear(data_dim + 64 + 64, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, data_dim))
        self.register_buffer("pca_mean", torch.zeros(PIXELS))
        self.register_buffer("pca_components", torch.zeros(data_dim, PIXELS))
        self.register_buffer("scale", torch.ones(data_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x : (N, d) noisy whitened coordinates, t : (N,) steps in 0..T-1, y : (N,) classes."""
        features = [x, time_embedding(t, 64), self.class_embedding(y)]
        return self.net(torch.cat(features, dim=1))

    def to_pixels(self, z: torch.Tensor) -> torch.Tensor:
        """Whitened coordinates (N, d) -> images (N, 28, 28), clipped to [0, 1]."""
        pixels = (z * self.scale) @ self.pca_components + self.pca_mean
        return pixels.clamp(0, 1).reshape(-1, 28, 28)

    def to_coordinates(self, images: torch.Tensor) -> torch.Tensor:
        """Images (N, 28, 28) or (N, 784) -> whitened PCA coordinates (N, d)."""
        flat = images.reshape(len(images), -1).to(self.pca_mean.dtype)
        return ((flat - self.pca_mean) @ self.pca_components.T) / self.scale

    @torch.no_grad()
    def sample(self, labels, generator: torch.Generator | None = None) -> np.ndarray:
        """Ancestral DDPM sampling (T steps): one image per label -> (N, 28, 28) in [0, 1]."""
        self.eval()
        device = self.pca_mean.device
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=device)
        betas = linear_betas(self.n_steps, self.beta_start, self.beta_end)
        alphas = 1 - betas
        alpha_bars = torch.cumprod(alphas, dim=0)
        x = torch.randn(len(y), self.data_dim, generator=generator).to(device)
        for step in reversed(range(self.n_steps)):
            t = torch.full((len(y),), step, device=device, dtype=torch.long)
            eps = self(x, t, y).double().cpu()
            mean = (x.double().cpu() - betas[step] / (1 - alpha_bars[step]).sqrt() * eps)
            mean = mean / alphas[step].sqrt()
            if step > 0:
                variance = betas[step] * (1 - alpha_bars[step - 1]) / (1 - alpha_bars[step])
                mean = mean + variance.sqrt() * torch.randn(mean.shape, generator=generator,
                                                            dtype=torch.float64)
            x = mean.float().to(device)
        return self.to_pixels(x).cpu().numpy()


class ClassUNet(nn.Module, PyTorchModelHubMixin):
    """Class-conditional DDPM noise predictor on 28 x 28 pixels (a diffusers ``UNet2DModel``).

    Needs the ``diffusers`` package and, to train in reasonable time, a GPU.
    """

    def __init__(self, n_classes: int = 10, class_emb_size: int = 4, n_steps: int = 1000,
                 beta_start: float = 1e-4, beta_end: float = 0.02):
        super().__init__()
        try:
            from diffusers import UNet2DModel
        except ImportError as exc:
            raise ImportError("the pixel-space DDPM needs the diffusers package: pip install "
                              "diffusers (or use the default PCA-space DDPM).") from exc
        self.n_steps, self.beta_start, self.beta_end = n_steps, beta_start, beta_end
        self.class_emb = nn.Embedding(n_classes, class_emb_size)
        self.model = UNet2DModel(
            sample_size=28, in_channels=1 + class_emb_size, out_channels=1, layers_per_block=2,
            block_out_channels=(32, 64, 64),
            down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x : (N, 1, 28, 28) noisy images in [-1, 1], t : (N,) steps, y : (N,) classes."""
        n, _, h, w = x.shape
        classes = self.class_emb(y).view(n, -1, 1, 1).expand(n, -1, h, w)
        return self.model(torch.cat([x, classes], dim=1), t).sample

    def to_coordinates(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (N, 28, 28) -> model space (N, 1, 28, 28) in [-1, 1]."""
        return images.reshape(len(images), 1, 28, 28) * 2 - 1

    @torch.no_grad()
    def sample(self, labels, generator: torch.Generator | None = None) -> np.ndarray:
        """Ancestral DDPM sampling: one image per label -> ndarray (N, 28, 28) in [0, 1]."""
        self.eval()
        device = next(self.parameters()).device
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=device)
        betas = linear_betas(self.n_steps, self.beta_start, self.beta_end).float().to(device)
        alphas, alpha_bars = 1 - betas, torch.cumprod(1 - betas, dim=0)
        x = torch.randn((len(y), 1, 28, 28), generator=generator).to(device)
        for step in reversed(range(self.n_steps)):
            t = torch.full((len(y),), step, device=device, dtype=torch.long)
            eps = self(x, t, y)
            x = (x - betas[step] / (1 - alpha_bars[step]).sqrt() * eps) / alphas[step].sqrt()
            if step > 0:
                variance = betas[step] * (1 - alpha_bars[step - 1]) / (1 - alpha_bars[step])
                noise = torch.randn(x.shape, generator=generator).to(device)
                x = x + variance.sqrt() * noise
        return ((x.clamp(-1, 1) + 1) / 2)[:, 0].cpu().numpy()
