"""Training an ensemble of top-k SAEs with your functions from ``submission.py``.

One step on a batch x (B, 784), for all S SAEs at once::

    pre_acts, latents, recons = model(x)                  # under torch.autocast on CUDA
    out = ensemble_loss(x, recons, consistency_weight)
    out["loss"].backward()                                # CUDA: scaled (torch.amp)
    optimizer.step(); model.normalize_decoder_()
    steps_since_fired = update_steps_since_fired(steps_since_fired, latents)

Every ``dead_check_every`` steps, the features that have not fired for ``dead_window`` steps
are re-initialised by ``reinit_dead_features_`` toward the worst-reconstructed images of a
random batch of ``resample_batch`` training images, and their counters restart at 0.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from metrics import ReconstructionStats
from submission import (
    SAEEnsemble,
    ensemble_loss,
    pearson_correlation,
    reinit_dead_features_,
    update_steps_since_fired,
)

from common.artifacts import ArtifactError, load_arrays, save_arrays
from common.checks import check_positive_int
from common.device import pick_device
from common.progress import progress
from common.seeding import seed_everything

N_PIXELS = 784
EVAL_BATCH = 1000
TRAIN_EVAL_IMAGES = 1000
# The run the grader trains with your code (seed aside); grade.py shows what it scores.
GRADED_RUN = {"n_saes": 1, "n_latents": 256, "k": 50, "epochs": 15, "batch_size": 64,
              "lr": 3e-3, "consistency_weight": 0.05, "device": "cpu"}


@dataclass
class TrainConfig:
    """The settings of one training run (saved as config.json in the run folder)."""

    device: str = "auto"
    analyze_loss: bool = False
    n_saes: int = 3
    n_latents: int = 256
    k: int = 50
    epochs: int = 100
    batch_size: int = 64
    lr: float = 3e-3
    consistency_weight: float = 0.05
    dead_window: int = 200
    dead_check_every: int = 50
    resample_batch: int = 1024
    amp: bool = True
    threads: int = 1
    seed: int = 0
    results_path: str = "results"
    log_to: str = "none"

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first setting out of range; return self."""
        for name in ("n_saes", "n_latents", "k", "epochs", "batch_size", "dead_window",
                     "dead_check_every", "resample_batch", "threads"):
            check_positive_int(name, getattr(self, name))
        if self.k > self.n_latents:
            raise ValueError(f"k = {self.k} cannot exceed n_latents = {self.n_latents}; lower "
                             "--k or raise --n_latents.")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; received {self.lr!r}. Try 2e-3.")
        if not self.consistency_weight >= 0:
            raise ValueError(f"consistency_weight must be >= 0; received "
                             f"{self.consistency_weight!r}. Try 0.1, or 0 for independent SAEs.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer; received {self.seed!r}.")
        return self


def as_images(X) -> torch.Tensor:
    """``X`` (N, 28, 28) or (N, 784), pixels in [0, 1], as a float32 tensor (N, 784) (an array
    becomes a CPU tensor; a tensor keeps its device)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().float()
    else:
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    if X.dim() == 3:
        X = X.reshape(len(X), -1)
    if X.dim() != 2 or X.shape[1] != N_PIXELS or len(X) == 0:
        raise ValueError(f"expected images of shape (N, 28, 28) or (N, 784) with N >= 1; "
                         f"received shape {tuple(X.shape)}.")
    return X


class Trainer:
    """Trains ``SAEEnsemble(n_saes, 784, n_latents, k)`` on ``X_train``.

    Parameters
    ----------
    X_train : array of shape (N, 28, 28) or (N, 784), pixels in [0, 1]
    config : TrainConfig (None: the defaults); keyword arguments override its fields, e.g.
        ``Trainer(X, n_saes=1, epochs=3)``
    """

    def __init__(self, X_train, config: TrainConfig | None = None, **overrides):
        self.config = TrainConfig(**{**asdict(config or TrainConfig()), **overrides}).validate()
        cfg = self.config
        seed_everything(cfg.seed)
        self.device = pick_device(cfg.device)
        self.amp = cfg.amp and self.device.type == "cuda"
        self.X = as_images(X_train).to(self.device)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.model = SAEEnsemble(cfg.n_saes, N_PIXELS, cfg.n_latents, cfg.k).to(self.device)
        self.params = list(self.model.parameters())
        # fused: one kernel for all of Adam's element-wise updates (5x faster on a CPU)
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr, fused=True)
        steps_per_epoch = -(-len(self.X) // cfg.batch_size)
        self.total_steps = cfg.epochs * steps_per_epoch
        # torch.amp's dynamic loss scaling (float16 gradients would underflow); None on a CPU
        self.scaler = torch.amp.GradScaler(self.device.type) if self.amp else None
        self.steps_since_fired = torch.zeros(cfg.n_saes, cfg.n_latents, dtype=torch.long,
                                             device=self.device)
        self.step = 0
        self.epoch = 0
        self.reinitialised = 0

    def _autocast(self):
        if self.amp:
            return torch.amp.autocast(self.device.type, dtype=torch.float16)
        return nullcontext()

    def train_step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimiser step of every SAE on the batch ``x`` (B, 784).

        Returns the step's ``loss`` () and ``fired`` (S, L): which features fired on ``x``.
        """
        cfg = self.config
        with self._autocast():
            _, latents, recons = self.model(x)
        out = ensemble_loss(x, recons.float(), cfg.consistency_weight)
        self.optimizer.zero_grad(set_to_none=True)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        if self.scaler is not None:
            self.scaler.scale(out["loss"]).backward()
            self.scaler.step(self.optimizer)  # skipped when a gradient is inf or NaN
            self.scaler.update()
        else:
            out["loss"].backward()
            self.optimizer.step()
        self.model.normalize_decoder_()
        self.steps_since_fired = update_steps_since_fired(self.steps_since_fired, latents)
        self.step += 1
        if self.step % cfg.dead_check_every == 0:
            self.resample_dead()
        return {"loss": out["loss"].detach(), "fired": (latents != 0).any(dim=1)}

    def learning_rate(self) -> float:
        """``lr`` for the first step, decaying along a half cosine to ``lr / 100`` at the
        last step of ``epochs`` epochs (and staying there)."""
        progress_ = min(self.step / max(1, self.total_steps - 1), 1.0)
        return self.config.lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress_)))

    def resample_dead(self) -> int:
        """Re-initialise the features dead for ``dead_window`` steps; return how many."""
        dead = self.steps_since_fired >= self.config.dead_window
        if not bool(dead.any()):
            return 0
        n = min(self.config.resample_batch, len(self.X))
        rows = torch.randperm(len(self.X), generator=self.generator)[:n].to(self.device)
        count = int(reinit_dead_features_(self.model, self.optimizer, self.X[rows], dead))
        self.steps_since_fired = torch.where(dead, torch.zeros_like(self.steps_since_fired),
                                             self.steps_since_fired)
        self.reinitialised += count
        return count

    def train_epoch(self, show_progress: bool = True) -> dict:
        """One pass over the training images in a seeded random order.

        Returns the epoch's ``loss`` (mean over steps), ``time_s`` (training only),
        ``reinitialised`` (features re-initialised this epoch) and ``train``: the metrics of
        metrics.py on the first 1,000 training images after the epoch, except
        ``dead_fraction``, which counts the features that fired on no image of the epoch.
        """
        cfg = self.config
        start = time.perf_counter()
        self.model.train()
        order = torch.randperm(len(self.X), generator=self.generator).to(self.device)
        batches = order.split(cfg.batch_size)
        losses = []
        fired = torch.zeros(cfg.n_saes, cfg.n_latents, dtype=torch.bool, device=self.device)
        before = self.reinitialised
        bar = progress(batches, desc=f"epoch {self.epoch + 1}", total=len(batches),
                       leave=False) if show_progress else None
        for rows in bar if bar is not None else batches:
            step = self.train_step(self.X[rows])
            losses.append(step["loss"])
            fired |= step["fired"]
            if bar is not None and len(losses) % 10 == 0:
                bar.set_postfix(loss=f"{float(losses[-1]):.4f}")
        self.epoch += 1
        elapsed = time.perf_counter() - start
        train = self.evaluate(self.X[:TRAIN_EVAL_IMAGES])
        train["dead_fraction"] = [float(v) for v in (~fired).double().mean(dim=1).cpu()]
        return {"epoch": self.epoch, "loss": float(torch.stack(losses).mean()),
                "time_s": elapsed, "reinitialised": self.reinitialised - before,
                "train": train}

    def fit(self, epochs: int | None = None, show_progress: bool = True) -> list[dict]:
        """Train ``epochs`` epochs (default: the config's); return their metrics."""
        return [self.train_epoch(show_progress) for _ in range(epochs or self.config.epochs)]

    @torch.no_grad()
    def reconstruct(self, X, with_latents: bool = False):
        """Every SAE's reconstruction of ``X`` (N, 28, 28) or (N, 784), as a float32 CPU
        tensor (S, N, 784); with ``with_latents``, also the latents (S, N, L)."""
        X = as_images(X).to(self.device)
        self.model.eval()
        recons, latents = [], []
        for chunk in X.split(EVAL_BATCH):
            with self._autocast():
                _, z, r = self.model(chunk)
            recons.append(r.float().cpu())
            latents.append(z.float().cpu())
        if with_latents:
            return torch.cat(recons, dim=1), torch.cat(latents, dim=1)
        return torch.cat(recons, dim=1)

    def evaluate(self, X) -> dict:
        """The metrics of metrics.py on ``X`` with the current weights."""
        X = as_images(X).to(self.device)
        stats = ReconstructionStats(pearson_correlation)
        for chunk in X.split(EVAL_BATCH):
            recons, latents = self.reconstruct(chunk, with_latents=True)
            stats.add(chunk.cpu(), recons, latents)
        return stats.result()


MODEL_DIR = "sae"


def save_model(model: SAEEnsemble, folder: str | Path) -> Path:
    """Save the ensemble as ``folder/config.json`` + ``folder/sae.safetensors``."""
    arrays = {name: p.detach().float().cpu().numpy() for name, p in model.state_dict().items()}
    config = {"n_saes": model.n_saes, "n_inputs": model.n_inputs,
              "n_latents": model.n_latents, "k": model.k}
    return save_arrays(folder, MODEL_DIR, arrays, config, class_name="SAEEnsemble")


def load_model(folder: str | Path) -> SAEEnsemble:
    """The ensemble saved by :func:`save_model` (ArtifactError naming the file if it cannot)."""
    config, arrays = load_arrays(folder, MODEL_DIR, class_name="SAEEnsemble")
    model = SAEEnsemble(**config, initialize=False)
    try:
        model.load_state_dict({name: torch.from_numpy(a) for name, a in arrays.items()})
    except RuntimeError as exc:
        raise ArtifactError(f"{Path(folder) / (MODEL_DIR + '.safetensors')} does not fit "
                            f"SAEEnsemble({config}): {str(exc)[:300]}") from None
    return model.eval()
