"""The graded training run of lab_sae, driven from the grader (trusted code).

The handout's ``trainer.Trainer`` trains in the worker, where a submission can replace it (or
the optimiser, or the loop), train longer, or load weights from anywhere, and hand back any
parameters. So the grader runs the trainer's loop itself: the batches (a ``torch.Generator``
seeded with ``seed``, reshuffled every epoch), the forward pass of the handout's SAE
(``pre = (x - b_pre) W_enc + b_enc``, ``recons = latents W_dec + b_pre``) and its backward pass
(the chain rule), Adam (``fused``, as the trainer), the half-cosine learning rate and the dead-
feature schedule are all here. The worker is asked only for what the student's functions give
at the grader's values:

* the initial parameters: ``SAEEnsemble(...)`` after ``seed_everything(seed)``;
* ``topk_activation(pre, k)`` (the latents) and its gradient (``probes.topk_input_gradient``);
* the gradient of ``ensemble_loss(x, recons, w)["loss"]`` with respect to recons
  (``probes.loss_gradient``);
* ``normalize_decoder_()`` after every step (once checked on a probe to be the handout's
  row normalisation, the grader applies that rule itself: three round trips per step fewer; a
  normalisation that differs is called at every step), ``update_steps_since_fired`` every step
  and ``reinit_dead_features_`` (with the grader's Adam state copied into a worker optimiser) at
  the dead-feature checks.

Every value is checked (type, dtype, shape, finite) before the grader uses it. With the
reference solution the run matches the trainer's to float rounding (tests/lab_sae).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from grading.received import describe, number, returned

N_PIXELS = 784
# trainer.TrainConfig's defaults (tests/lab_sae checks that they agree), used where a run does
# not set them (the graded run leaves the dead-feature schedule at its defaults).
TRAINER_DEFAULTS = {"consistency_weight": 0.05, "dead_window": 200, "dead_check_every": 50,
                    "resample_batch": 1024}


def param_shapes(n_saes: int, n_latents: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the SAEEnsemble's parameters: W_enc (S, D, L), b_enc (S, L), W_dec (S, L, D),
    b_pre (S, D) with D = 784."""
    S, L, D = n_saes, n_latents, N_PIXELS
    return {"W_enc": (S, D, L), "b_enc": (S, L), "W_dec": (S, L, D), "b_pre": (S, D)}


def checked_params(value, shapes: dict[str, tuple[int, ...]], when: str
                   ) -> dict[str, torch.Tensor]:
    """The model's parameters from the worker (a dict name -> tensor), each a plain float32
    tensor of its exact shape, finite; detached copies, in the worker's order (that of
    ``model.parameters()``)."""
    if type(value) is not dict or set(value) != set(shapes):
        got = sorted(value) if type(value) is dict else describe(value)
        raise AssertionError(f"{when}, the model must have exactly the parameters "
                             f"{sorted(shapes)}; it has {got}.")
    return {name: returned(value[name], f"{when}, {name}", shape=shapes[name],
                           dtype=torch.float32,
                           hint="Keep the parameters float32, shaped as the handout says."
                           ).detach().clone() for name in value}


@dataclass
class RunResult:
    """The trained parameters (float32) and what the run did."""

    params: dict[str, torch.Tensor]
    epoch_mse: list[float] = field(default_factory=list)  # mean training MSE of each epoch
    reinitialised: int = 0

    def numpy(self) -> dict[str, np.ndarray]:
        """The parameters as float64 arrays (for ``sae_reference.heldout_report``)."""
        return {name: value.double().numpy() for name, value in self.params.items()}


class GradedRun:
    """One training run with the student's functions; ``fit()`` returns a RunResult.

    Parameters
    ----------
    submission, fixed : the student's module and ``fixed`` (the lab's modules in the worker);
        in the project's tests, the reference module and the lab's modules in process
    X_train : float32 array (N, 784), pixels in [0, 1]
    seed : int
    config : n_saes, n_latents, k, epochs, batch_size, lr, and optionally consistency_weight,
        dead_window, dead_check_every, resample_batch (default TRAINER_DEFAULTS)
    """

    def __init__(self, submission, fixed, X_train: np.ndarray, seed: int, config: dict):
        self.cfg = {**TRAINER_DEFAULTS, **config}
        # the functions called at every step, looked up once (each lookup is a round trip)
        self.topk, self.update_counter = (submission.topk_activation,
                                          submission.update_steps_since_fired)
        self.reinit, self.torch = submission.reinit_dead_features_, fixed("torch")
        probes = fixed("probes")
        self.loss_gradient, self.topk_gradient = probes.loss_gradient, probes.topk_input_gradient
        self.read_params, self.adam_moments = probes.parameters, probes.adam_moments
        S, L = self.cfg["n_saes"], self.cfg["n_latents"]
        self.shapes = param_shapes(S, L)
        self.X = torch.as_tensor(np.asarray(X_train, dtype=np.float32))
        fixed("common.seeding").seed_everything(seed)
        self.model = submission.SAEEnsemble(S, N_PIXELS, L, self.cfg["k"])
        self.load, self.normalize = self.model.load_state_dict, self.model.normalize_decoder_
        self.params = checked_params(self.read_params(self.model), self.shapes,
                                     "after initialisation")
        for p in self.params.values():
            p.requires_grad_(False)
        self.normalizes_rows = self._normalize_is_the_handouts()
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=self.cfg["lr"],
                                          fused=True)
        self.generator = torch.Generator().manual_seed(seed)
        self.counter = torch.zeros(S, L, dtype=torch.long)
        self.total_steps = self.cfg["epochs"] * -(-len(self.X) // self.cfg["batch_size"])
        self.step = 0
        self.reinitialised = 0
        self._worker_optimizer = None

    # -- one step -----------------------------------------------------------------------------
    def learning_rate(self) -> float:
        """The trainer's half cosine from lr to lr / 100 over the run."""
        progress = min(self.step / max(1, self.total_steps - 1), 1.0)
        return self.cfg["lr"] * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))

    def train_step(self, x: torch.Tensor) -> float:
        """One Adam step of every SAE on the batch x (B, 784); the batch's MSE (mean over SAEs)."""
        p, k = self.params, self.cfg["k"]
        S, B, L = self.cfg["n_saes"], len(x), self.cfg["n_latents"]
        centred = x.unsqueeze(0) - p["b_pre"].unsqueeze(1)  # (S, B, D)
        pre = torch.baddbmm(p["b_enc"].unsqueeze(1), centred, p["W_enc"])  # (S, B, L)
        latents = returned(self.topk(pre, k), "topk_activation",
                           shape=(S, B, L), dtype=torch.float32,
                           hint="Keep the shape and dtype of pre_acts.")
        recons = torch.baddbmm(p["b_pre"].unsqueeze(1), latents, p["W_dec"])  # (S, B, D)
        g_recons = returned(self.loss_gradient(x, recons, self.cfg["consistency_weight"]),
                            'the gradient of ensemble_loss(...)["loss"] with respect to recons',
                            shape=(S, B, N_PIXELS), dtype="float")
        g_latents = torch.bmm(g_recons.float(), p["W_dec"].transpose(1, 2))  # (S, B, L)
        g_pre = returned(self.topk_gradient(pre, k, g_latents),
                         "the gradient of topk_activation", shape=(S, B, L), dtype="float"
                         ).float()
        g_recons = g_recons.float()
        grads = {"W_enc": torch.bmm(centred.transpose(1, 2), g_pre),
                 "b_enc": g_pre.sum(1),
                 "W_dec": torch.bmm(latents.transpose(1, 2), g_recons),
                 "b_pre": g_recons.sum(1) - torch.einsum("sl,sdl->sd", g_pre.sum(1),
                                                         p["W_enc"])}
        for name, value in p.items():
            value.grad = grads[name]
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        self.optimizer.step()
        self._normalize()
        self._count_firing(latents)
        self.step += 1
        if self.step % self.cfg["dead_check_every"] == 0:
            self._resample_dead()
        return float((recons - x).square().mean())

    def _normalize_is_the_handouts(self) -> bool:
        """Whether the student's ``normalize_decoder_`` divides each decoder row by its L2
        norm and changes nothing else, checked on the initial parameters with rows rescaled by
        0.5 to 3 (the worker's model is left holding the initial parameters)."""
        g = torch.Generator().manual_seed(1)
        scales = 0.5 + 2.5 * torch.rand(self.params["W_dec"].shape[:2], generator=g)
        probe = {**self.params, "W_dec": self.params["W_dec"] * scales.unsqueeze(-1)}
        self.load(probe, strict=False)
        self.normalize()
        fresh = checked_params(self.read_params(self.model), self.shapes,
                               "after normalize_decoder_")
        self.load(self.params, strict=False)
        expected = probe["W_dec"] / probe["W_dec"].norm(dim=-1, keepdim=True)
        return torch.allclose(fresh["W_dec"], expected, rtol=1e-6, atol=1e-7) and all(
            torch.equal(fresh[name], value) for name, value in self.params.items()
            if name != "W_dec")

    def _normalize(self) -> None:
        """The decoder rows to unit norm: the handout's rule here when the student's
        ``normalize_decoder_`` was found to be it, else theirs on the worker's model."""
        if self.normalizes_rows:
            with torch.no_grad():
                W_dec = self.params["W_dec"]
                W_dec /= W_dec.norm(dim=-1, keepdim=True)
            return
        self.load(self.params, strict=False)  # its buffers, if any, stay
        self.normalize()
        fresh = checked_params(self.read_params(self.model), self.shapes,
                               "after normalize_decoder_")
        with torch.no_grad():
            for name, value in fresh.items():
                self.params[name].copy_(value)

    def _count_firing(self, latents: torch.Tensor) -> None:
        S, L = self.counter.shape
        counter = returned(self.update_counter(self.counter.clone(), latents),
                           "update_steps_since_fired", shape=(S, L), dtype=None,
                           hint="Return the new counter, a tensor of shape (S, L).")
        if counter.dtype == torch.bool or counter.dtype.is_complex:
            raise AssertionError(f"update_steps_since_fired must return counts (integers); "
                                 f"received dtype {counter.dtype}.")
        self.counter = counter

    def _resample_dead(self) -> None:
        """The trainer's ``resample_dead``: the student's ``reinit_dead_features_`` on the
        worker's model and an Adam optimiser holding our state, then both read back."""
        dead = self.counter >= self.cfg["dead_window"]
        if not bool(dead.any()):
            return
        n = min(self.cfg["resample_batch"], len(self.X))
        rows = torch.randperm(len(self.X), generator=self.generator)[:n]
        self.load(self.params, strict=False)  # its buffers, if any, stay
        optimizer = self._worker_adam()
        count = number(self.reinit(self.model, optimizer, self.X[rows], dead.clone()),
                       "reinit_dead_features_'s count")
        fresh = checked_params(self.read_params(self.model), self.shapes,
                               "after reinit_dead_features_")
        moments = self.adam_moments(optimizer, self.model)
        with torch.no_grad():
            for name, value in fresh.items():
                self.params[name].copy_(value)
            for name, param in self.params.items():
                state = self.optimizer.state[param]
                got = moments.get(name) if type(moments) is dict else None
                for key in ("exp_avg", "exp_avg_sq"):
                    value = got.get(key) if type(got) is dict else None
                    state[key].copy_(returned(
                        value, f"Adam's {key} of {name} after reinit_dead_features_",
                        shape=self.shapes[name], dtype=torch.float32))
        self.counter = torch.where(dead, torch.zeros_like(self.counter), self.counter)
        self.reinitialised += int(count)

    def _worker_adam(self):
        """A torch Adam in the worker over the model's parameters, loaded with our state."""
        if self._worker_optimizer is None:
            self._worker_optimizer = self.torch.optim.Adam(self.model.parameters(),
                                                           lr=self.cfg["lr"])
        # our parameters are in the order of the worker's model.parameters(): the state's
        # indices 0, 1, ... name the same tensors on both sides
        self._worker_optimizer.load_state_dict(self.optimizer.state_dict())
        return self._worker_optimizer

    # -- the run ------------------------------------------------------------------------------
    def fit(self) -> RunResult:
        """All epochs: a seeded shuffle, then one step per batch (the last one may be short)."""
        result = RunResult(self.params)
        for _ in range(self.cfg["epochs"]):
            order = torch.randperm(len(self.X), generator=self.generator)
            losses = [self.train_step(self.X[rows]) for rows in order.split(
                self.cfg["batch_size"])]
            result.epoch_mse.append(float(np.mean(losses)))
        result.reinitialised = self.reinitialised
        return result
