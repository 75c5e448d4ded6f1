"""The graded run of lab_data_selection, driven from the grader (trusted code).

The handout's ``train.graded_run`` trains in the worker and hands back a network and weights:
a submission can replace it (or the optimiser, or the loop), skip the hyper-steps, train on the
validation set, and hand back anything. So the grader runs the same loop itself, exactly as
``MNISTDataSelector(learn_weights=True).train`` with the default settings does: the network
(``network.build_network("simple")`` after ``torch.manual_seed(seed)``), the batch order (a
``torch.Generator`` seeded with ``seed``), SGD with momentum and a cosine schedule on the
network, SGD on the log-weights and their clipping are all here. At every step the worker is
asked only for the values of the student's functions at the grader's state:

* the hypergradient (the student's ``hypergradient``, with their Neumann series of their
  Gauss-Newton products, through the lab's ``NeumannHyperOptimizer``, which halves ``inner_lr``
  when their series reports divergence) at the grader's network and log-weights, on the
  grader's batch: an (N,) tensor, zero outside the batch;
* d L / d l_i of the student's ``weighted_train_loss`` at the batch's per-sample losses
  (``toy_problem.weighted_loss_gradients``): a (B,) tensor, which the grader backpropagates
  through its own network (by the chain rule, the network gradient of the weighted loss).

Both are checked (type, dtype, shape, finite) before the grader uses them. With the
reference solution the result equals ``train.graded_run``'s (tests/lab_data_selection).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from grading.received import describe, number, returned

# MNISTDataSelector's defaults (mnist_data_selection.DEFAULTS; tests/lab_data_selection checks
# that they agree) and its batch size.
SETTINGS = {"network": "simple", "lr": 0.01, "momentum": 0.9, "hyper_lr": 100.0, "K": 5,
            "inner_lr": 0.01, "max_log_weight": 2.0, "batch_size": 64}


@dataclass
class LearnedRun:
    """What the grader's learned-weights run ends with."""

    network: torch.nn.Module  # the grader's network, trained
    log_weights: torch.Tensor  # (N,) float32
    divergences: int  # Neumann divergences reported by the student's series

    def sample_weights(self) -> np.ndarray:
        """The pool's weights (N,), normalised to mean 1, as ``sample_weights()`` gives them."""
        with torch.no_grad():
            return (torch.softmax(self.log_weights, dim=0) * len(self.log_weights)).numpy()


def _hypergradient(value, n: int, batch: torch.Tensor) -> torch.Tensor:
    """The worker's hypergradient for the log-weights: one (n,) float tensor, finite, zero
    outside ``batch`` (those log-weights do not enter the batch's loss)."""
    if type(value) not in (list, tuple) or len(value) != 1:
        raise AssertionError(f"hypergradient must return a list with one tensor per "
                             f"hyperparameter (here one: the {n} log-weights); received "
                             f"{describe(value)}.")
    g = returned(value[0], "the hypergradient of the log-weights", shape=(n,),
                 hint="Return a list of tensors shaped like hyper_params.")
    outside = torch.ones(n, dtype=torch.bool)
    outside[batch] = False
    leaked = int((g[outside] != 0).sum())
    if leaked:
        raise AssertionError(f"the hypergradient has {leaked} non-zero entries for log-weights "
                             f"of samples outside the batch; they do not enter the batch's "
                             f"loss, so their hypergradient is 0 (differentiate with autograd "
                             f"and take zeros where a gradient is unused).")
    return g.to(torch.float32)


def _loss_weights(value, batch_size: int) -> torch.Tensor:
    """d weighted_train_loss / d losses from the worker: a (B,) float tensor, finite."""
    if type(value) is not tuple or len(value) != 3:
        raise AssertionError(f"the gradients of weighted_train_loss could not be read: "
                             f"received {describe(value)}.")
    number(value[0], "weighted_train_loss of a training batch")
    d_losses = returned(value[1], "d weighted_train_loss / d losses", shape=(batch_size,),
                        hint="Keep weighted_train_loss in torch operations.")
    return d_losses.to(torch.float32)


def learned_run(fixed, network_module, normalise, data, epochs: int, seed: int) -> LearnedRun:
    """Train with learned weights, the student's functions answering from the worker.

    Parameters
    ----------
    fixed : ``fixed("toy_problem")``-like: the lab's modules in the submission's worker
    network_module, normalise : the lab's ``network`` module and ``data.normalise``, loaded in
        the grader (trusted copies)
    data : SelectionData (train / val images and labels, target digits)
    epochs, seed : as ``train.graded_run``
    """
    s = SETTINGS
    n, batch_size = len(data.train_labels), s["batch_size"]
    x_train, x_val = normalise(data.train_images), normalise(data.val_images)
    y_train, y_val = torch.as_tensor(data.train_labels), torch.as_tensor(data.val_labels)
    with torch.random.fork_rng():
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        network = network_module.build_network(s["network"])
    params = list(network.parameters())
    log_weights = torch.zeros(n)
    optimizer = torch.optim.SGD(params, lr=s["lr"], momentum=s["momentum"])
    steps = n // batch_size
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps)
    criterion = torch.nn.CrossEntropyLoss(reduction="none")

    worker_data = fixed("data").SelectionData(data.train_images, data.train_labels,
                                              data.val_images, data.val_labels,
                                              tuple(data.target_digits))
    selector = fixed("mnist_data_selection").MNISTDataSelector(
        list(data.target_digits), data=worker_data, seed=seed, verbose=False)
    model, hyper = selector.model, selector.hyper_optimizer
    partial = fixed("functools").partial
    val_loss_fn = partial(model.validation_loss, x_val, y_val)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for step in range(steps):
            idx = order[step * batch_size:(step + 1) * batch_size]
            state = {f"network.{k}": v for k, v in network.state_dict().items()}
            model.load_state_dict({**state, "log_weights": log_weights})
            train_loss_fn = partial(model.train_loss, x_train[idx], y_train[idx], idx)
            g = _hypergradient(hyper.hypergradient(train_loss_fn, val_loss_fn), n, idx)
            with torch.no_grad():
                log_weights.add_(g, alpha=-s["hyper_lr"])
                log_weights.clamp_(-s["max_log_weight"], s["max_log_weight"])
            losses = criterion(network(x_train[idx]), y_train[idx])
            d_losses = _loss_weights(fixed("toy_problem").weighted_loss_gradients(
                losses.detach(), log_weights[idx].clone()), len(idx))
            grads = torch.autograd.grad(losses, params, grad_outputs=d_losses)
            for param, grad in zip(params, grads, strict=True):
                param.grad = grad
            optimizer.step()
            schedule.step()
    divergences = number(hyper.divergences, "the number of Neumann divergences")
    return LearnedRun(network.eval(), log_weights, int(divergences))


def network_logits(network: torch.nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """Logits (M, C), float64, of the grader's network on normalised inputs."""
    with torch.no_grad():
        return network(inputs).double().numpy()
