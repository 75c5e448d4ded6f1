"""The original assignment's entry point, with its flags: trains an ensemble of top-k SAEs on
MNIST with your submission.py, through this lab's train.py.

    python mnist_sae_train.py --k 50 --latent_dim 256 --n_models 3 --epochs 100
    python mnist_sae_train.py --analyze_loss       # the mean-image baseline beside the SAEs' loss
    python mnist_sae_train.py --no_wandb           # metrics.jsonl in the run folder only

Flag mapping (original -> train.py): ``--k`` -> ``--k``; ``--latent_dim`` / ``--n_latents`` ->
``--n_latents``; ``--n_models`` / ``--ensemble`` -> ``--n_saes``; ``--lr``, ``--batch_size``,
``--epochs``, ``--seed``, ``--device``, ``--analyze_loss``, ``--results_path`` as they are;
``--amp`` / ``--no_amp`` -> mixed precision on CUDA (on by default there; a CPU trains in
float32 either way); ``--wandb`` (default) -> ``--log_to wandb`` (offline W&B when wandb is
installed, else metrics.jsonl in the run folder) and ``--no_wandb`` -> ``--log_to jsonl``.
Everything else keeps train.py's defaults (``trainer.TrainConfig``); ``--threads`` is passed on.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

import train
from trainer import TrainConfig

from common.device import DEVICE_CHOICES

DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=DEFAULTS["k"],
                        help="active latents per image (the k of top-k)")
    parser.add_argument("--latent_dim", "--n_latents", dest="n_latents", type=int,
                        default=DEFAULTS["n_latents"], help="latents (features) per SAE")
    parser.add_argument("--n_models", "--ensemble", dest="n_saes", type=int,
                        default=DEFAULTS["n_saes"], help="number of SAEs in the ensemble")
    parser.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                        help="Adam learning rate at the start (half-cosine decay to lr / 100)")
    parser.add_argument("--batch_size", type=int, default=DEFAULTS["batch_size"],
                        help="images per optimiser step")
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"],
                        help="passes over the 4,000 training images")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="random seed")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default=DEFAULTS["device"],
                        help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--amp", dest="amp", action="store_true", default=DEFAULTS["amp"],
                        help="mixed precision on CUDA (torch.amp autocast + GradScaler; the "
                             "default)")
    parser.add_argument("--no_amp", dest="amp", action="store_false",
                        help="train in float32 on CUDA too")
    parser.add_argument("--analyze_loss", action="store_true",
                        help="print the mean-image baseline beside the SAEs' initial loss, "
                             "then stop")
    parser.add_argument("--wandb", dest="wandb", action="store_true", default=True,
                        help="log to W&B (offline) when wandb is installed, else to "
                             "metrics.jsonl in the run folder (the default)")
    parser.add_argument("--no_wandb", dest="wandb", action="store_false",
                        help="log to metrics.jsonl in the run folder only")
    parser.add_argument("--results_path", default=DEFAULTS["results_path"],
                        help="folder under which the run folder {datetime}/ is created")
    parser.add_argument("--threads", type=int, default=DEFAULTS["threads"],
                        help="CPU threads for torch and BLAS (more than the free cores slows "
                             "training down)")
    return parser.parse_args(argv)


def train_argv(args: argparse.Namespace) -> list[str]:
    """The train.py command line that ``args`` (this script's flags) stand for."""
    argv = ["--k", str(args.k), "--n_latents", str(args.n_latents), "--n_saes",
            str(args.n_saes), "--lr", repr(args.lr), "--batch_size", str(args.batch_size),
            "--epochs", str(args.epochs), "--seed", str(args.seed), "--device", args.device,
            "--results_path", args.results_path, "--threads", str(args.threads),
            "--log_to", "wandb" if args.wandb else "jsonl"]
    if not args.amp:
        argv.append("--no_amp")
    if args.analyze_loss:
        argv.append("--analyze_loss")
    return argv


def main(argv=None):
    """Run train.py with the mapped flags; returns what ``train.main`` returns (the run folder,
    or the numbers of ``--analyze_loss``)."""
    return train.main(train_argv(parse_args(argv)))


if __name__ == "__main__":
    main()
