"""Optional experiment logging to Weights & Biases, TensorBoard or a JSON-lines file.

Neither package is required: ``--log_to wandb`` needs ``pip install wandb`` and
``--log_to tensorboard`` needs ``pip install tensorboard``. When W&B is missing, the metrics go
to ``metrics.jsonl`` in the run folder instead (one JSON object per epoch, the names W&B would
get); when TensorBoard is missing, training goes on without it. Both say so. W&B runs in offline
mode unless ``WANDB_MODE`` says otherwise, so it works without a network;
``wandb sync <run folder>/wandb/offline-run-*`` uploads later. ``--log_to jsonl`` writes the file
without trying W&B.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

LOGGERS = ("none", "wandb", "tensorboard", "jsonl")
PROJECT = "lab_sae"
JSONL_FILE = "metrics.jsonl"


def flatten(metrics: dict, prefix: str = "") -> dict[str, float]:
    """``{"test": {"mse": [a, b]}}`` -> ``{"test/mse/sae0": a, "test/mse/sae1": b}``."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}/"))
        elif isinstance(value, list | tuple):
            flat.update({f"{name}/sae{i}": float(v) for i, v in enumerate(value)})
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


class JsonLines:
    """W&B's ``log`` into a file: one line ``{"step": n, name: value, ...}`` per call."""

    def __init__(self, path: Path):
        self.path = path
        self.file = path.open("a")

    def log(self, values: dict[str, float], step: int) -> None:
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        self.file.flush()

    def finish(self) -> None:
        self.file.close()


class RunLogger:
    """Sends each epoch's metrics to W&B, TensorBoard or ``metrics.jsonl`` (``kind``), or
    nowhere (``"none"``); ``"wandb"`` becomes ``"jsonl"`` when wandb cannot be imported."""

    def __init__(self, kind: str, run_dir: Path, config: dict):
        if kind not in LOGGERS:
            raise ValueError(f"--log_to must be one of {', '.join(LOGGERS)}; received {kind!r}.")
        self.kind = kind
        self.backend = None
        if kind == "wandb":
            self._start_wandb(run_dir, config)
        elif kind == "tensorboard":
            self._start_tensorboard(run_dir)
        elif kind == "jsonl":
            self._start_jsonl(run_dir)

    def _start_wandb(self, run_dir: Path, config: dict) -> None:
        try:
            import wandb
        except ImportError:
            print(f"W&B is not installed (pip install wandb); logging to "
                  f"{run_dir / JSONL_FILE} instead.")
            self._start_jsonl(run_dir)
            return
        mode = os.environ.get("WANDB_MODE", "offline")
        self.backend = wandb.init(project=PROJECT, dir=str(run_dir), config=config, mode=mode,
                                  name=run_dir.name)
        print(f"W&B run in {mode} mode under {run_dir / 'wandb'}")

    def _start_jsonl(self, run_dir: Path) -> None:
        self.kind = "jsonl"
        self.backend = JsonLines(run_dir / JSONL_FILE)

    def _start_tensorboard(self, run_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("TensorBoard is not installed (pip install tensorboard); training without it.")
            self.kind = "none"
            return
        self.backend = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        print(f"TensorBoard logs in {run_dir / 'tensorboard'} (tensorboard --logdir {run_dir})")

    def log(self, metrics: dict, step: int) -> None:
        """Log one epoch's (nested) metrics at ``step``."""
        if self.backend is None:
            return
        flat = flatten(metrics)
        if self.kind in ("wandb", "jsonl"):
            self.backend.log(flat, step=step)
        else:
            for name, value in flat.items():
                self.backend.add_scalar(name, value, step)

    def close(self) -> None:
        if self.backend is None:
            return
        if self.kind in ("wandb", "jsonl"):
            self.backend.finish()
        else:
            self.backend.close()
        self.backend = None
