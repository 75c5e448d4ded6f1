"""lab_sae: epoch time of an ensemble of 5 SAEs trained together (batched tensors, one bmm per
layer for all of them) vs the same 5 SAEs trained one after another (the same code with
n_saes=1, five times); the bound on that speed-up set by the work batching cannot share; on a
GPU also mixed precision (torch.amp: autocast + GradScaler) vs float32.

Setting: the reference solution, the MNIST sample's 4,000 training digits, 256 latents, k = 50,
batch 64, the default trainer (running metrics included). Each figure is the median over
several epochs after one warm-up epoch. Goal (lab_sae issue): batched >= 2x faster on CPU.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bench.timing import median_seconds
from common.data import load_mnist
from common.threads import set_thread_budget
from grading.examples import reference_lab

LAB_DIR = Path(__file__).resolve().parent.parent / "lab_sae"
N_SAES = 5
SETTINGS = {"n_latents": 256, "k": 50, "batch_size": 64, "epochs": 100, "seed": 0}


@contextmanager
def reference_trainer():
    """The lab's trainer module importing the reference solution as ``submission``."""
    with reference_lab(LAB_DIR) as import_module:
        yield import_module("trainer")


def batched_vs_sequential(trainer_module, X, threads: int, repeats: int,
                          batch_size: int = SETTINGS["batch_size"]) -> None:
    """Epochs of the batched ensemble and of the five single SAEs, interleaved so that a change
    of machine load hits both alike; medians over ``repeats`` rounds after one warm-up round."""
    set_thread_budget(threads)
    settings = {**SETTINGS, "batch_size": batch_size}
    together = trainer_module.Trainer(X, n_saes=N_SAES, device="cpu", **settings)
    alone = [trainer_module.Trainer(X, n_saes=1, device="cpu", **{**settings, "seed": s})
             for s in range(N_SAES)]
    batched, sequential = [], []
    for round_ in range(repeats + 1):
        start = time.perf_counter()
        together.train_epoch(show_progress=False)
        middle = time.perf_counter()
        for trainer in alone:
            trainer.train_epoch(show_progress=False)
        if round_:  # round 0 warms up
            batched.append(middle - start)
            sequential.append(time.perf_counter() - middle)
    ratio = float(np.median(np.array(sequential) / np.array(batched)))
    print(f"CPU, {threads} thread(s), batch {batch_size}: {N_SAES} SAEs batched "
          f"{np.median(batched):.2f} s/epoch; "
          f"one after another {np.median(sequential):.2f} s/epoch; speed-up {ratio:.2f}x "
          f"(median over {repeats} interleaved rounds; goal >= 2x)")


def speedup_bound(trainer_module, X, threads: int, repeats: int) -> None:
    """The most batching could gain on this CPU: one training step of the 5 SAEs one after
    another, against the part of the batched step whose cost grows with the number of SAEs
    however it is batched: its matrix products (five per step, at the step's shapes), the
    top-k of every latent row, Adam's update of every parameter and the renormalisation of
    every decoder row after it. Were everything else free, the batched step would still take
    that long."""
    import torch

    set_thread_budget(threads)
    settings = {**SETTINGS, "dead_check_every": 10**9}  # steps on one batch: no resampling
    B, D, L = SETTINGS["batch_size"], 784, SETTINGS["n_latents"]
    x = trainer_module.as_images(X[:B])
    alone = trainer_module.Trainer(X, n_saes=1, device="cpu", **settings)
    together = trainer_module.Trainer(X, n_saes=N_SAES, device="cpu", **settings)
    xs = x.expand(N_SAES, B, D).contiguous()
    latents = torch.rand(N_SAES, B, L)
    grad_out = torch.rand(N_SAES, B, D)
    W_enc, W_dec = together.model.W_enc.detach(), together.model.W_dec.detach()
    for p in together.params:
        p.grad = torch.rand_like(p)

    def matrix_products():
        torch.bmm(xs, W_enc)                        # encoder
        torch.bmm(latents, W_dec)                   # decoder
        torch.bmm(latents.transpose(1, 2), grad_out)  # decoder weight gradient
        torch.bmm(grad_out, W_dec.transpose(1, 2))    # latent gradient
        torch.bmm(xs.transpose(1, 2), latents)        # encoder weight gradient

    steps = 20
    per_step = {
        "one after another": median_seconds(
            lambda: [alone.train_step(x) for _ in range(N_SAES * steps)], repeats) / steps,
        "batched": median_seconds(
            lambda: [together.train_step(x) for _ in range(steps)], repeats) / steps,
        "matrix products": median_seconds(
            lambda: [matrix_products() for _ in range(steps)], repeats) / steps,
        "top-k": median_seconds(lambda: [torch.topk(latents, SETTINGS["k"], dim=-1)
                                         for _ in range(steps)], repeats) / steps,
        "Adam": median_seconds(lambda: [together.optimizer.step() for _ in range(steps)],
                               repeats) / steps,
        "decoder norms": median_seconds(lambda: [together.model.normalize_decoder_()
                                                 for _ in range(steps)], repeats) / steps,
    }
    flops = 5 * 2 * N_SAES * B * D * L
    unshared = sum(per_step[part] for part in ("matrix products", "top-k", "Adam",
                                               "decoder norms"))
    print(f"CPU, {threads} thread(s), batch {B}, one step of {N_SAES} SAEs: one after another "
          f"{per_step['one after another'] * 1e3:.2f} ms, batched "
          f"{per_step['batched'] * 1e3:.2f} ms; of which batching cannot share: matrix products "
          f"{per_step['matrix products'] * 1e3:.2f} ms "
          f"({flops / per_step['matrix products'] / 1e9:.0f} GFLOP/s), top-k "
          f"{per_step['top-k'] * 1e3:.2f} ms, Adam {per_step['Adam'] * 1e3:.2f} ms, decoder norms "
          f"{per_step['decoder norms'] * 1e3:.2f} ms; bound on the "
          f"speed-up were all else free: {per_step['one after another'] / unshared:.2f}x")


def amp_vs_float32(trainer_module, X, repeats: int) -> None:
    import torch

    if not torch.cuda.is_available():
        print("GPU: no CUDA device here; AMP vs float32 not measured")
        return
    name = torch.cuda.get_device_name(0)
    times = {}
    for amp in (True, False):
        trainer = trainer_module.Trainer(X, n_saes=N_SAES, device="cuda", amp=amp, **SETTINGS)

        def epoch(t=trainer):
            t.train_epoch(show_progress=False)
            torch.cuda.synchronize()

        times[amp] = median_seconds(epoch, repeats)
    print(f"GPU {name}, {N_SAES} SAEs: AMP (float16 autocast) {times[True]:.3f} s/epoch, "
          f"float32 {times[False]:.3f} s/epoch, ratio {times[False] / times[True]:.2f}x")


def run(quick: bool = False) -> None:
    images, _ = load_mnist("sample", "train")
    repeats = 3 if quick else 7
    start = time.perf_counter()
    with reference_trainer() as trainer_module:
        for threads in (1, 2):
            batched_vs_sequential(trainer_module, images, threads, repeats)
        # small batches: per-operation overhead, which batching shares, weighs more
        batched_vs_sequential(trainer_module, images, 1, repeats, batch_size=16)
        for threads in (1, 2):
            speedup_bound(trainer_module, images, threads, repeats)
        amp_vs_float32(trainer_module, images, repeats)
    print(f"(bench took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
