"""Prepare what the lab's scripts use: the MNIST sample cache, the autoencoder and the DDPM.

    python load_resources.py                   # decode the data, train both models (CPU, minutes)
    python load_resources.py --device cuda --ddpm_space pixel   # a pixel-space UNet DDPM (GPU)
    python load_resources.py --ae_repo_id USER/mnist-ae --ddpm_repo_id USER/mnist-ddpm  # pull

Trained models are cached under ``<data dir>/lab_gmm/`` (the data dir is ``$LABS_DATA_DIR``,
default ``~/.cache/mnist-course-labs``): a second run finds them and returns at once. An
interrupted DDPM training resumes from its last checkpoint. Nothing is downloaded unless a hub
repo id is given.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from model import AE, ClassUNet, PCADenoiser
from safetensors.torch import load_file, save_file

from common.artifacts import ArtifactError, load_torch_pretrained
from common.checks import check_positive_int
from common.cli import dataclass_parser
from common.data import load_mnist, resolve_data_dir
from common.device import pick_device
from common.progress import progress
from common.seeding import seed_everything
from common.threads import set_thread_budget

HUB_HOST = ("huggingface.co", 443)
PROBE_TIMEOUT_S = 3.0
CHECKPOINT_EVERY = 500
LEARNING_RATE = 1e-3


@dataclass
class ResourcesConfig:
    """Settings of load_resources.py (the training ones are recorded with each model)."""

    device: str = "auto"
    resources_dir: str | None = None
    ae_repo_id: str | None = None
    ddpm_repo_id: str | None = None
    ddpm_space: str = "pca"
    ae_epochs: int = 100
    ddpm_steps: int = 6_000
    batch_size: int = 256
    force: bool = False
    seed: int = 0


def resources_dir(override: str | os.PathLike | None = None) -> Path:
    """Where the lab's trained helpers live: ``override`` or ``<data dir>/lab_gmm``."""
    return Path(override).expanduser() if override else resolve_data_dir() / "lab_gmm"


def _missing(what: str, folder: Path) -> ArtifactError:
    return ArtifactError(f"no {what} in {folder}: run `python load_resources.py` first (it trains "
                         "it in a few minutes and caches it).")


def load_autoencoder(folder: str | os.PathLike | None = None) -> AE:
    """The cached autoencoder (CPU, eval mode); ArtifactError naming the fix when absent."""
    path = resources_dir(folder) / "ae"
    if not (path / "model.safetensors").is_file():
        raise _missing("autoencoder", path)
    return load_torch_pretrained(AE, path).eval()


def load_ddpm(folder: str | os.PathLike | None = None):
    """The cached DDPM (a PCADenoiser, or a ClassUNet when one was trained), in eval mode."""
    root = resources_dir(folder)
    for name, cls in (("ddpm", PCADenoiser), ("ddpm_pixel", ClassUNet)):
        if (root / name / "model.safetensors").is_file():
            return load_torch_pretrained(cls, root / name).eval()
    raise _missing("DDPM", root / "ddpm")


def _hub_reachable() -> bool:
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection(HUB_HOST, timeout=PROBE_TIMEOUT_S):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT_S)  # DNS lookups ignore socket timeouts
    return bool(result and result[0])


def pull_from_hub(cls, repo_id: str, target: Path):
    """Download ``repo_id`` (a ``cls`` model) and save it to ``target``; fail fast offline."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not _hub_reachable():
        raise ArtifactError(
            f"cannot pull {repo_id!r}: the hub ({HUB_HOST[0]}) is not reachable within "
            f"{PROBE_TIMEOUT_S:g} s (offline, or HF_HUB_OFFLINE=1). Run without --ae_repo_id / "
            "--ddpm_repo_id to train the model locally instead.")
    model = load_torch_pretrained(cls, repo_id)
    model.save_pretrained(target)
    return model


def _batches(n: int, batch_size: int, rng: np.random.Generator):
    while True:
        order = rng.permutation(n)
        for i in range(0, n - batch_size + 1, batch_size):
            yield torch.as_tensor(order[i: i + batch_size])


def train_autoencoder(images: np.ndarray, cfg: ResourcesConfig, device) -> AE:
    """An MLP autoencoder with a 2-D bottleneck, trained by binary cross-entropy."""
    x = torch.as_tensor(images.reshape(len(images), -1), dtype=torch.float32, device=device)
    ae = AE().to(device)
    optimizer = torch.optim.Adam(ae.parameters(), lr=1e-3)
    batches = _batches(len(x), 128, np.random.default_rng(cfg.seed))
    steps = cfg.ae_epochs * (len(x) // 128)
    bar = progress(range(steps), desc="autoencoder", unit="step")
    for step in bar:
        batch = x[next(batches).to(device)]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(ae(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            bar.set_postfix(bce=f"{loss.item():.4f}")
    return ae.cpu().eval()


def make_ddpm(images: np.ndarray, space: str, data_dim: int = 50):
    """A new DDPM for ``space`` ("pca": fit its PCA on ``images``; "pixel": a UNet)."""
    if space == "pixel":
        return ClassUNet()
    flat = images.reshape(len(images), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(flat - mean, rowvar=False))
    order = np.argsort(values)[::-1][:data_dim]
    model = PCADenoiser(data_dim=data_dim)
    model.pca_mean.copy_(torch.as_tensor(mean))
    model.pca_components.copy_(torch.as_tensor(vectors[:, order].T))
    model.scale.copy_(torch.as_tensor(np.sqrt(values[order])))
    return model


def _save_checkpoint(folder: Path, model, optimizer, step: int, losses: list[float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for i, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optim.{i}.{key}"] = torch.as_tensor(value).detach().cpu().reshape(-1)
    save_file(tensors, str(folder / "state.safetensors.tmp"))
    os.replace(folder / "state.safetensors.tmp", folder / "state.safetensors")
    (folder / "progress.json").write_text(json.dumps({"step": step, "losses": losses}))


def _load_checkpoint(folder: Path, model, optimizer) -> tuple[int, list[float]]:
    if not (folder / "progress.json").is_file():
        return 0, []
    tensors = load_file(str(folder / "state.safetensors"))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state = optimizer.state_dict()
    params = state["param_groups"][0]["params"]
    state["state"] = {i: {key: tensors[f"optim.{i}.{key}"].reshape(
        () if key == "step" else model_param.shape)
        for key in ("step", "exp_avg", "exp_avg_sq")}
        for i, model_param in zip(params, model.parameters(), strict=True)
        if f"optim.{i}.step" in tensors}
    optimizer.load_state_dict(state)
    meta = json.loads((folder / "progress.json").read_text())
    return int(meta["step"]), list(meta["losses"])


def train_ddpm(images: np.ndarray, labels: np.ndarray, cfg: ResourcesConfig, device,
               checkpoint: Path):
    """Train a class-conditional DDPM (epsilon prediction), resuming from ``checkpoint``."""
    seed_everything(cfg.seed)
    model = make_ddpm(images, cfg.ddpm_space).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    start, losses = _load_checkpoint(checkpoint, model, optimizer)
    with torch.no_grad():
        data = model.to_coordinates(torch.as_tensor(images, device=device)).float()
    y_all = torch.as_tensor(labels, dtype=torch.long, device=device)
    alpha_bars = torch.cumprod(1 - model_betas(model), dim=0).float().to(device)
    rng = np.random.default_rng(cfg.seed + start)
    batches = _batches(len(data), cfg.batch_size, rng)
    generator = torch.Generator().manual_seed(cfg.seed + start)
    bar = progress(range(start, cfg.ddpm_steps), desc=f"DDPM ({cfg.ddpm_space} space)",
                   total=cfg.ddpm_steps - start, unit="step")
    model.train()
    for step in bar:
        index = next(batches).to(device)
        x0, y = data[index], y_all[index]
        t = torch.randint(0, model.n_steps, (len(index),), generator=generator).to(device)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        a = alpha_bars[t].reshape(-1, *([1] * (x0.dim() - 1)))
        loss = torch.nn.functional.mse_loss(model(a.sqrt() * x0 + (1 - a).sqrt() * noise, t, y),
                                            noise)
        for group in optimizer.param_groups:  # constant, then linear decay over the second half
            group["lr"] = LEARNING_RATE * min(1.0, 2.0 * (1 - step / cfg.ddpm_steps))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
        if step % 100 == 0:
            bar.set_postfix(mse=f"{np.mean(losses[-100:]):.4f}")
        if (step + 1) % CHECKPOINT_EVERY == 0 and step + 1 < cfg.ddpm_steps:
            _save_checkpoint(checkpoint, model, optimizer, step + 1, losses)
    return model.cpu().eval(), losses


def model_betas(model) -> torch.Tensor:
    from model import linear_betas

    return linear_betas(model.n_steps, model.beta_start, model.beta_end)


HELP = {
    "device": "where to train: auto (CUDA when present), cpu, cuda or cuda:N",
    "resources_dir": "cache folder (default: <data dir>/lab_gmm)",
    "ae_repo_id": "pull the autoencoder from this hub repo instead of training it",
    "ddpm_repo_id": "pull the DDPM from this hub repo instead of training it",
    "ddpm_space": "pca: an MLP DDPM in PCA-50 space (CPU, minutes); pixel: a UNet on pixels "
                  "(needs diffusers and a GPU)",
    "ae_epochs": "autoencoder training epochs",
    "ddpm_steps": "DDPM training steps",
    "batch_size": "DDPM batch size",
    "force": "retrain even if cached",
    "seed": "random seed",
}


def parse_args(argv=None) -> ResourcesConfig:
    parser = dataclass_parser(ResourcesConfig, HELP, __doc__.splitlines()[0],
                              choices={"ddpm_space": ["pca", "pixel"]})
    config = ResourcesConfig(**vars(parser.parse_args(argv)))
    for name in ("ae_epochs", "ddpm_steps", "batch_size"):
        check_positive_int(f"--{name}", getattr(config, name))
    return config


def main(argv=None) -> Path:
    cfg = parse_args(argv)
    start = time.perf_counter()
    # One compute thread: a second one gains about 1.2x on an idle 2-core machine and loses
    # 3-5x when other programs share the cores (measured on the DDPM training and tSNE).
    set_thread_budget(1)
    device = pick_device(cfg.device)
    if cfg.ddpm_space == "pixel" and device.type != "cuda":
        print("warning: the pixel-space DDPM on a CPU takes hours; --ddpm_space pca takes minutes")
    root = resources_dir(cfg.resources_dir)
    root.mkdir(parents=True, exist_ok=True)
    images, labels = load_mnist("sample", "train")
    load_mnist("sample", "test")
    print(f"data: the MNIST sample is decoded and cached ({len(labels)} training digits)")

    if cfg.force:
        for name in ("ae", "ddpm", "ddpm_pixel", "ddpm_checkpoint", "tsne"):
            shutil.rmtree(root / name, ignore_errors=True)
    ae_dir = root / "ae"
    if (ae_dir / "model.safetensors").is_file():
        print(f"autoencoder: cached in {ae_dir}")
    elif cfg.ae_repo_id:
        pull_from_hub(AE, cfg.ae_repo_id, ae_dir)
        print(f"autoencoder: pulled {cfg.ae_repo_id} into {ae_dir}")
    else:
        seed_everything(cfg.seed)
        train_autoencoder(images, cfg, device).save_pretrained(ae_dir)
        print(f"autoencoder: trained and saved to {ae_dir}")

    name = "ddpm" if cfg.ddpm_space == "pca" else "ddpm_pixel"
    ddpm_dir, checkpoint = root / name, root / f"{name}_checkpoint"
    cls = PCADenoiser if cfg.ddpm_space == "pca" else ClassUNet
    if (ddpm_dir / "model.safetensors").is_file():
        print(f"DDPM: cached in {ddpm_dir}")
    elif cfg.ddpm_repo_id:
        pull_from_hub(cls, cfg.ddpm_repo_id, ddpm_dir)
        print(f"DDPM: pulled {cfg.ddpm_repo_id} into {ddpm_dir}")
    else:
        model, losses = train_ddpm(images, labels, cfg, device, checkpoint)
        model.save_pretrained(ddpm_dir)
        (ddpm_dir / "training.json").write_text(json.dumps(
            {"steps": cfg.ddpm_steps, "batch_size": cfg.batch_size, "seed": cfg.seed,
             "final_mse": float(np.mean(losses[-200:]))}))
        shutil.rmtree(checkpoint, ignore_errors=True)
        print(f"DDPM: trained and saved to {ddpm_dir}")
    print(f"resources ready in {root} ({time.perf_counter() - start:.0f} s)")
    return root


if __name__ == "__main__":
    main()
