"""The hyper-optimizer: one hypergradient step on the hyperparameters per call.

    hyper_optimizer = NeumannHyperOptimizer(model.parameters, model.hyper_parameters,
                                            use_gauss_newton=True, stochastic=True,
                                            default=dict(lr=30.0))
    hyper_optimizer.set_kwargs(inner_lr=0.1, K=5)
    hyper_optimizer.step(train_loss_fn, val_loss_fn)

``step`` puts your ``hypergradient`` (with your ``neumann_inverse_hvp`` of your Gauss-Newton or
Hessian-vector product as ``inverse_hvp``) into the hyperparameters' ``.grad`` and steps a
torch optimizer on them. When your Neumann series reports divergence, the step halves
``inner_lr``, says so (a warning, and ``divergences`` counts them) and tries again.
"""

from __future__ import annotations

import warnings

import torch
from submission import (
    NeumannDivergenceError,
    gauss_newton_vector_product,
    hessian_vector_product,
    hypergradient,
    neumann_inverse_hvp,
)

BASE_OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam,
                   "RMSprop": torch.optim.RMSprop}
MAX_HALVINGS = 30


class NeumannHyperOptimizer:
    """Hypergradient descent with a Neumann-series inverse Hessian.

    Parameters
    ----------
    parameters : list of tensors
        The network's weights w.
    hyper_parameters : list of tensors
        The hyperparameters lambda (``requires_grad=True``).
    base_optimizer : {"SGD", "Adam", "RMSprop"}, default "SGD"
        The torch optimizer that steps lambda with the hypergradient.
    default : dict, default dict(lr=0.1)
        Its keyword arguments (``lr``, ``momentum``, ...).
    use_gauss_newton : bool, default True
        Curvature products with the Gauss-Newton matrix (positive semi-definite) instead of
        the Hessian (indefinite for a non-convex network).
    stochastic : bool, default True
        True: every curvature product re-evaluates ``train_loss_fn`` (fresh forward pass).
        False: the training loss is evaluated once per step and its graph reused.
    """

    def __init__(self, parameters, hyper_parameters, base_optimizer: str = "SGD",
                 default: dict | None = None, use_gauss_newton: bool = True,
                 stochastic: bool = True) -> None:
        self.parameters = list(parameters)
        self.hyper_parameters = list(hyper_parameters)
        if not self.parameters or not self.hyper_parameters:
            raise ValueError("parameters and hyper_parameters must be non-empty lists of "
                             f"tensors; received {len(self.parameters)} and "
                             f"{len(self.hyper_parameters)} tensors.")
        if base_optimizer not in BASE_OPTIMIZERS:
            raise ValueError(f"base_optimizer must be one of {sorted(BASE_OPTIMIZERS)}; "
                             f"received {base_optimizer!r}.")
        self.hyper_optim = BASE_OPTIMIZERS[base_optimizer](self.hyper_parameters,
                                                           **(default or {"lr": 0.1}))
        self.use_gauss_newton = bool(use_gauss_newton)
        self.stochastic = bool(stochastic)
        self.divergences = 0
        self.last_hypergradient: list[torch.Tensor] | None = None
        self.inner_lr, self.K = 0.1, 20
        self.set_kwargs()

    def set_kwargs(self, inner_lr: float | None = None, K: int | None = None) -> None:
        """Set the Neumann series' step ``inner_lr`` (alpha, default 0.1) and number of terms
        ``K`` (default 20); an argument left out keeps its current value."""
        if inner_lr is not None and not inner_lr > 0:
            raise ValueError(f"inner_lr must be > 0; received {inner_lr!r}.")
        if K is not None and (isinstance(K, bool) or not isinstance(K, int) or K < 0):
            raise ValueError(f"K must be an integer >= 0; received {K!r}.")
        self.inner_lr = self.inner_lr if inner_lr is None else float(inner_lr)
        self.K = self.K if K is None else K

    def _curvature_product(self, train_loss_fn):
        """v -> H v or G v for the current training loss."""
        product = gauss_newton_vector_product if self.use_gauss_newton else (
            hessian_vector_product)
        if not self.stochastic:
            evaluated = train_loss_fn()
            train_loss_fn = lambda: evaluated  # noqa: E731 - the graph is reused on purpose
        return lambda v: product(train_loss_fn, self.parameters, v)

    def hypergradient(self, train_loss_fn, val_loss_fn) -> list[torch.Tensor]:
        """dL_V/dlambda with the current settings (halving inner_lr on divergence)."""
        mvp = self._curvature_product(train_loss_fn)
        for _ in range(MAX_HALVINGS):
            alpha = self.inner_lr
            try:
                return hypergradient(
                    train_loss_fn, val_loss_fn, self.parameters, self.hyper_parameters,
                    lambda v, alpha=alpha: neumann_inverse_hvp(mvp, v, self.K, alpha))
            except NeumannDivergenceError as exc:
                self.divergences += 1
                self.inner_lr = alpha / 2
                warnings.warn(f"Neumann series diverged with inner_lr = {alpha:g} ({exc}); "
                              f"retrying with inner_lr = {self.inner_lr:g}.", stacklevel=2)
        raise NeumannDivergenceError(f"the Neumann series still diverges after {MAX_HALVINGS} "
                                     f"halvings of inner_lr (now {self.inner_lr:g}).")

    def step(self, train_loss_fn, val_loss_fn) -> None:
        """One step of the hyperparameters along minus the hypergradient.

        Parameters
        ----------
        train_loss_fn : callable, () -> (L_T, logits)
            The training loss of the current batch.
        val_loss_fn : callable, () -> L_V
            The validation loss.
        """
        grads = self.hypergradient(train_loss_fn, val_loss_fn)
        self.hyper_optim.zero_grad()
        for hyper, grad in zip(self.hyper_parameters, grads, strict=True):
            hyper.grad = grad.to(hyper.dtype)
        self.hyper_optim.step()
        self.last_hypergradient = grads
