"""Train an ensemble of top-k sparse autoencoders on the MNIST sample with your submission.py.

    python train.py                              # 3 SAEs, 256 latents, k = 50, 1 thread
    python train.py --n_saes 5 --epochs 10       # other sizes and budgets
    python train.py --analyze_loss               # explain the initial loss, then stop
    python train.py --device cuda                # mixed precision (autocast + loss scaling)
    python train.py --log_to tensorboard         # or wandb (offline), or jsonl

Writes ``results/{datetime}/``: ``config.json`` (the settings), ``metrics.json`` (per epoch:
loss, MSE, normalised MSE, fraction of variance explained, Pearson, L0, dead fraction, for the
training images (running) and the 1,000 held-out images; at the end the full evaluation of
both splits) and ``sae/`` (the weights: config.json + sae.safetensors).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from loggers import LOGGERS, RunLogger
from metrics import mean_image_mse, pca_reconstruction
from trainer import TrainConfig, Trainer, as_images, save_model

from common.artifacts import new_run_folder
from common.cli import dataclass_parser
from common.data import load_mnist
from common.device import DEVICE_CHOICES
from common.progress import progress
from common.seeding import seed_everything
from common.threads import set_thread_budget

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"

HELP = {
    "device": "where to train: auto (CUDA when present), cpu, or cuda (with mixed precision)",
    "analyze_loss": "print the mean-image baseline MSE beside each SAE's initial MSE, then stop",
    "n_saes": "number of SAEs trained together",
    "n_latents": "latents (features) per SAE",
    "k": "active latents per image (the k of top-k)",
    "epochs": "passes over the 4,000 training images",
    "batch_size": "images per optimiser step",
    "lr": "Adam learning rate at the start (it decays along a half cosine to lr / 100)",
    "consistency_weight": "weight of the consistency loss between the SAEs' reconstructions",
    "dead_window": "steps without firing after which a feature is dead and re-initialised",
    "dead_check_every": "steps between two checks for dead features",
    "resample_batch": "training images from which dead features take their new direction",
    "amp": "mixed precision on CUDA (no effect on CPU)",
    "threads": "CPU threads for torch and BLAS (more than the free cores slows training down)",
    "seed": "random seed (initialisation, batch order, re-initialisation batches)",
    "results_path": "folder under which the run folder {datetime}/ is created",
    "log_to": "also log the metrics to wandb (offline; metrics.jsonl in the run folder when "
              "wandb is not installed), tensorboard, or jsonl (metrics.jsonl only)",
}


def parse_args(argv=None) -> TrainConfig:
    parser = dataclass_parser(TrainConfig, HELP, __doc__.splitlines()[0], exclude=("amp",),
                              choices={"device": DEVICE_CHOICES, "log_to": LOGGERS})
    parser.add_argument("--no_amp", dest="amp", action="store_false",
                        help="train in float32 on CUDA too (default: mixed precision)")
    return TrainConfig(**vars(parser.parse_args(argv))).validate()


def read_config(run: str | Path) -> TrainConfig:
    """The TrainConfig saved in a run folder; ValueError naming the folder when it is not one."""
    path = Path(run) / CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"no {CONFIG_FILE} in {run}: --results_path must be a run folder that "
                         "train.py wrote, e.g. results/2025-01-31_12-00-00.")
    values = json.loads(path.read_text())
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in known})


def analyze_loss(trainer: Trainer, X: np.ndarray) -> dict:
    """Print why the loss starts where it does: the initial MSE of each SAE on ``X`` (N, 784)
    beside the empty image, the mean image (the baseline) and PCA-50. Returns the numbers."""
    from grading.public import format_table

    x = as_images(X)
    baseline = mean_image_mse(x.numpy())
    zero = float(x.square().mean())
    with torch.no_grad():
        initial = [float(v) for v in (trainer.reconstruct(x) - x).square().mean(dim=(1, 2))]
    pca = float(np.mean((pca_reconstruction(x.numpy(), x.numpy(), 50) - x.numpy()) ** 2))
    rows = [("an empty image (all pixels 0)", zero),
            ("the mean training image (the baseline)", baseline)]
    rows += [(f"SAE {s} at initialisation", mse) for s, mse in enumerate(initial)]
    rows.append(("PCA with 50 components (to beat)", pca))
    print(format_table(("reconstruction of the training images", "MSE", "/ baseline"),
                       [(name, f"{mse:.4f}", f"{mse / baseline:.2f}") for name, mse in rows]))
    captured = 1 - np.mean(initial) / zero
    print(f"\nThe mean image alone explains {1 - baseline / zero:.0%} of the pixels' energy "
          f"(mean of x^2 = {zero:.4f}). At initialisation b_pre = 0 and the decoder rows are "
          f"random orthonormal directions, so each SAE rebuilds an image from its projections on "
          f"the {trainer.config.k} directions with the largest ones: {captured:.0%} of the "
          f"energy, less than the mean image. That is why the initial MSE is above the "
          f"baseline {baseline:.3f}. Training first moves b_pre toward the mean image (the "
          f"loss falls below the baseline within the first epoch), then shapes the features.")
    return {"zero_mse": zero, "baseline_mse": baseline, "initial_mse": initial,
            "pca50_mse": pca}


def write_metrics(run: Path, history: list[dict], final: dict | None, start: float) -> None:
    payload = {"epochs": history, "final": final, "total_time_s": time.perf_counter() - start}
    (run / METRICS_FILE).write_text(json.dumps(payload, indent=1) + "\n")


def main(argv=None) -> Path | dict:
    cfg = parse_args(argv)
    set_thread_budget(cfg.threads)
    seed_everything(cfg.seed)
    images, _ = load_mnist("sample", "train")
    test_images, _ = load_mnist("sample", "test")
    trainer = Trainer(images, cfg)
    if cfg.analyze_loss:
        return analyze_loss(trainer, images)
    run = new_run_folder(cfg.results_path)
    (run / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(cfg), indent=1) + "\n")
    print(f"Training {cfg.n_saes} SAE(s) of {cfg.n_latents} latents, k = {cfg.k}, on "
          f"{trainer.device}{' with mixed precision' if trainer.amp else ''}; results in {run}")
    logger = RunLogger(cfg.log_to, run, dataclasses.asdict(cfg))
    start = time.perf_counter()
    history: list[dict] = []
    bar = progress(range(cfg.epochs), desc="training", total=cfg.epochs, unit="epoch")
    try:
        for _ in bar:
            metrics = trainer.train_epoch()
            metrics["test"] = trainer.evaluate(test_images)
            history.append(metrics)
            logger.log(metrics, step=metrics["epoch"])
            write_metrics(run, history, None, start)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}",
                            test_pearson=f"{np.mean(metrics['test']['pearson']):.4f}")
        final = {"train": trainer.evaluate(images), "test": trainer.evaluate(test_images)}
    finally:
        logger.close()
    write_metrics(run, history, final, start)
    save_model(trainer.model, run / "sae")
    elapsed = time.perf_counter() - start
    print(f"Done in {elapsed:.0f} s. Mean Pearson over the SAEs: train "
          f"{np.mean(final['train']['pearson']):.4f}, held-out "
          f"{np.mean(final['test']['pearson']):.4f}. Dead features (active on no image): "
          f"training dead fraction {np.mean(final['train']['dead_fraction']):.1%} (4,000 "
          f"training digits), held-out dead fraction "
          f"{np.mean(final['test']['dead_fraction']):.1%} (1,000 held-out digits).")
    print(f"Next: python visualization.py --results_path {run}")
    return run


if __name__ == "__main__":
    main()
