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
* at every step, in one round trip (``probes.step_values``): ``topk_activation(pre, k)`` (the
  latents), the gradient of ``ensemble_loss(x, recons, w)["loss"]`` with respect to recons
  (``probes.loss_gradient``), the gradient of the top-k (``probes.topk_input_gradient``) and
  ``update_steps_since_fired``;
* ``normalize_decoder_()`` after every step (once checked on a probe to be the handout's
  row normalisation, the grader applies that rule itself; a normalisation that differs is
  called at every step) and ``reinit_dead_features_`` (with the grader's Adam state copied into
  a worker optimiser) at the dead-feature checks.

``probes.step_values`` runs in the worker, where the submission can replace it. So at the first
step, and at steps drawn with the grader's own secret randomness (``secrets``: the worker cannot
predict them; one in AUDIT_EVERY on average), the grader also makes the four calls one by one
(the student's ``topk_activation`` and ``update_steps_since_fired`` themselves, and the two
gradient probes, the top-k one with the grader's own upstream gradient) and fails the run when
they disagree with what ``step_values`` answered: a submission that trains with anything other
than its own functions is caught at the first audited step where it does. The gradient probes
run in the worker too, so at the same steps the loss gradient must also agree with the
submission's own ``ensemble_loss`` values (a central difference along a secret direction).

Every value is checked (type, dtype, shape, finite) before the grader uses it. With the
reference solution the run matches the trainer's to float rounding (tests/lab_sae).
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass, field

import numpy as np
import torch

from grading.received import describe, number, returned

N_PIXELS = 784
# trainer.TrainConfig's defaults (tests/lab_sae checks that they agree), used where a run does
# not set them (the graded run leaves the dead-feature schedule at its defaults).
TRAINER_DEFAULTS = {"consistency_weight": 0.05, "dead_window": 200, "dead_check_every": 50,
                    "resample_batch": 1024}
# One step in AUDIT_EVERY (on average, besides the first) is recomputed with separate calls.
AUDIT_EVERY = 32
# The audit's finite difference of ensemble_loss: the step (relative to the residual's size)
# and the tolerance (a float32 loss of the handout's form agrees to about 0.2%).
FD_STEP, FD_TOL = 0.1, 0.05


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


def _agree(got: torch.Tensor, expected: torch.Tensor, exact: bool) -> bool:
    """Equal (``exact``), or equal to float rounding: the two sides compute from copies of the
    same values, in different processes (matrix products may round differently)."""
    if exact:
        return torch.equal(got, expected)
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    return bool(((got - expected).abs() <= 1e-5 * scale + 1e-12).all())


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
    audit : random.Random, optional
        Draws the audited steps (default: ``secrets.SystemRandom()``; the project's tests pass
        a seeded one to make a rare audit certain).
    """

    def __init__(self, submission, fixed, X_train: np.ndarray, seed: int, config: dict,
                 audit: random.Random | None = None):
        self.cfg = {**TRAINER_DEFAULTS, **config}
        self.audit = audit if audit is not None else secrets.SystemRandom()
        # the functions called at every step, looked up once (each lookup is a round trip)
        self.topk, self.update_counter = (submission.topk_activation,
                                          submission.update_steps_since_fired)
        self.reinit, self.torch = submission.reinit_dead_features_, fixed("torch")
        probes = fixed("probes")
        self.loss_gradient, self.topk_gradient = probes.loss_gradient, probes.topk_input_gradient
        self.step_values = probes.step_values
        self.loss = submission.ensemble_loss
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
        p, k, weight = self.params, self.cfg["k"], self.cfg["consistency_weight"]
        S, B, L = self.cfg["n_saes"], len(x), self.cfg["n_latents"]
        centred = x.unsqueeze(0) - p["b_pre"].unsqueeze(1)  # (S, B, D)
        pre = torch.baddbmm(p["b_enc"].unsqueeze(1), centred, p["W_enc"])  # (S, B, L)
        values = self.step_values(x, pre, k, p["W_dec"], p["b_pre"], weight, self.counter)
        if type(values) is not dict:
            raise AssertionError(f"probes.step_values must return a dict of tensors; received "
                                 f"{describe(values)}. Do not change the lab's probes.py.")
        latents = self._latents(values.get("latents"), (S, B, L))
        recons = torch.baddbmm(p["b_pre"].unsqueeze(1), latents, p["W_dec"])  # (S, B, D)
        g_recons = self._loss_gradient(values.get("g_recons"), (S, B, N_PIXELS)).float()
        g_latents = torch.bmm(g_recons, p["W_dec"].transpose(1, 2))  # (S, B, L)
        g_pre = self._topk_gradient(values.get("g_pre"), (S, B, L)).float()
        counter = self._counter(values.get("counter"))
        if self.step == 0 or self.audit.randrange(AUDIT_EVERY) == 0:
            self._audit(x, pre, recons, g_latents,
                        {"latents": latents, "g_recons": g_recons, "g_pre": g_pre,
                         "counter": counter})
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
        self.counter = counter
        self.step += 1
        if self.step % self.cfg["dead_check_every"] == 0:
            self._resample_dead()
        return float((recons - x).square().mean())

    # -- what the worker answers, checked -----------------------------------------------------
    @staticmethod
    def _latents(value, shape) -> torch.Tensor:
        return returned(value, "topk_activation", shape=shape, dtype=torch.float32,
                        hint="Keep the shape and dtype of pre_acts.")

    @staticmethod
    def _loss_gradient(value, shape) -> torch.Tensor:
        return returned(value, 'the gradient of ensemble_loss(...)["loss"] with respect to '
                        'recons', shape=shape, dtype="float")

    @staticmethod
    def _topk_gradient(value, shape) -> torch.Tensor:
        return returned(value, "the gradient of topk_activation", shape=shape, dtype="float")

    def _counter(self, value) -> torch.Tensor:
        counter = returned(value, "update_steps_since_fired", shape=tuple(self.counter.shape),
                           dtype=None, hint="Return the new counter, a tensor of shape (S, L).")
        if counter.dtype == torch.bool or counter.dtype.is_complex:
            raise AssertionError(f"update_steps_since_fired must return counts (integers); "
                                 f"received dtype {counter.dtype}.")
        return counter

    def _audit(self, x, pre, recons, g_latents, answered: dict[str, torch.Tensor]) -> None:
        """The step's four values again, one call each, at the grader's own values (recons
        and the top-k's upstream gradient computed here); AssertionError where one disagrees
        with what ``probes.step_values`` answered."""
        k, shape = self.cfg["k"], tuple(pre.shape)
        again = {
            "latents": self._latents(self.topk(pre, k), shape),
            "g_recons": self._loss_gradient(
                self.loss_gradient(x, recons, self.cfg["consistency_weight"]),
                tuple(recons.shape)).float(),
            "g_pre": self._topk_gradient(self.topk_gradient(pre, k, g_latents), shape).float(),
            "counter": self._counter(self.update_counter(self.counter.clone(),
                                                         answered["latents"])),
        }
        calls = {"latents": "topk_activation(pre_acts, k)",
                 "g_recons": "the gradient of ensemble_loss (probes.loss_gradient)",
                 "g_pre": "the gradient of topk_activation (probes.topk_input_gradient)",
                 "counter": "update_steps_since_fired(counter, latents)"}
        for name, value in again.items():
            got = answered[name]
            exact = name in ("latents", "counter")
            if got.dtype != value.dtype or not _agree(got, value, exact):
                raise AssertionError(
                    f"at training step {self.step + 1}, probes.step_values answered "
                    f"{name} that differ from {calls[name]} called on its own at the same "
                    f"values: the graded run trains with your functions only. Keep them "
                    f"deterministic (no state kept between calls) and do not change the "
                    f"lab's files (probes.py, trainer.py) from submission.py.")
        self._check_loss_gradient(x, recons, answered["g_recons"])

    def _check_loss_gradient(self, x, recons, g_recons) -> None:
        """AssertionError unless ``g_recons`` (S, B, D) is the gradient of the student's own
        ``ensemble_loss`` at ``recons``: its derivative along a random direction (the grader's
        secret randomness) must match a central difference of ensemble_loss's values, computed
        in float64 (exact for a loss quadratic in recons, as the lab's is). The probes that
        give the gradient run in the worker; this ties them to the submission's loss."""
        generator = torch.Generator().manual_seed(secrets.randbits(63))
        d = torch.randn(tuple(recons.shape), generator=generator, dtype=torch.float64)
        x64, r64 = x.double(), recons.double()
        h = FD_STEP * float((r64 - x64).abs().mean()) / float(d.abs().mean())
        losses = []
        for sign in (1, -1):
            value = self.loss(x64, r64 + sign * h * d, self.cfg["consistency_weight"])
            if type(value) is not dict:
                raise AssertionError(f"ensemble_loss must return a dict with a 'loss' entry; "
                                     f"received {describe(value)}.")
            losses.append(number(value.get("loss"), 'ensemble_loss(...)["loss"]'))
        difference = (losses[0] - losses[1]) / (2 * h)
        claimed = float((g_recons.double() * d).sum())
        if not abs(difference - claimed) <= FD_TOL * max(abs(difference), abs(claimed)):
            raise AssertionError(
                f"at training step {self.step + 1}, the gradient of ensemble_loss that the "
                f"probes answered ({claimed:.4g} along a random direction) is not that of "
                f"your ensemble_loss's values ({difference:.4g} by finite differences): the "
                "graded run trains with your functions only; do not change the lab's probes.py "
                "from submission.py.")

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
