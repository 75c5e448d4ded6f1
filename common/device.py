"""Choosing where torch runs."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def pick_device(requested: str = "auto"):
    """Return a ``torch.device`` for ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.

    ``"cuda:1"`` style names are accepted. Asking for CUDA on a machine without it raises a
    clear error instead of failing later inside a kernel.
    """
    import torch

    if not isinstance(requested, str):
        raise TypeError(f"device must be a string such as 'auto'; received {requested!r}.")
    name = requested.strip().lower()
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif name == "cpu":
        device = torch.device("cpu")
    elif name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {requested!r} was requested but torch sees no CUDA GPU on this machine. "
                "Run with --device cpu (or --device auto), or check `nvidia-smi` and that the "
                "installed torch is a CUDA build."
            )
        device = torch.device(name)
    else:
        raise ValueError(
            f"device must be one of {', '.join(DEVICE_CHOICES)} (or 'cuda:N'); "
            f"received {requested!r}."
        )
    log.info("using device %s", device)
    return device
