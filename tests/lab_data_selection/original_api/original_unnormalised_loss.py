# The original's weighted loss, mean(exp(sample_weights) * losses): not normalised over the batch.
"""Lab: learning per-sample weights by implicit differentiation.

You write the five pieces of a hypergradient, the gradient of a validation loss with respect to
hyperparameters that only reach it through training:

1. ``weighted_train_loss``         the training loss with one learned weight per sample;
2. ``hessian_vector_product``      H v without ever forming H (double backward);
3. ``gauss_newton_vector_product`` G v = J^T H_out J v, the positive semi-definite Gauss-Newton
                                   stand-in for H (three Jacobian products);
4. ``neumann_inverse_hvp``         H^-1 v by a truncated Neumann series, refusing to diverge;
5. ``hypergradient``               the implicit-function-theorem hypergradient.

Conventions used by every function in this file
-----------------------------------------------
* ``params``: a list of P tensors w_1 .. w_P (the network's weights), each with
  ``requires_grad=True``. A *vector* in parameter space is a list of P tensors shaped like
  ``params``; ``hyper_params`` (the log-weights lambda) likewise.
* ``loss_fn()``: a function of no arguments that evaluates the loss at the current ``params`` and
  returns ``(loss, outputs)``: a scalar tensor and the tensor it was computed from (the logits,
  shape (B, C)). Call it once per product. A caller may hand you a ``loss_fn`` that returns the
  same, already built graph at every call: never free a graph you did not build
  (``retain_graph=True`` on every ``torch.autograd.grad`` call).
* Everything you return is *detached* (no autograd history) and has the dtype of its input.
"""

from __future__ import annotations

import math
import numbers

import torch

DIVERGENCE_TOL = 1e-6


class NeumannDivergenceError(ArithmeticError):
    """The Neumann series diverges: alpha >= 2 / lambda_max(H) (or it produced inf / NaN)."""


def _zeros_for_none(grads, like):
    """``torch.autograd.grad(..., allow_unused=True)`` gives None for an input the output does
    not depend on; the derivative there is zero."""
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, like, strict=True)]


def _check_like(name: str, vector, params) -> list:
    vector = list(vector)
    if len(vector) != len(params):
        raise ValueError(f"{name} must be a list of {len(params)} tensors shaped like params; "
                         f"received {len(vector)} tensors.")
    for i, (v, p) in enumerate(zip(vector, params, strict=True)):
        if not isinstance(v, torch.Tensor) or v.shape != p.shape:
            shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise ValueError(f"{name}[{i}] must be a tensor of shape {tuple(p.shape)} (like "
                             f"params[{i}]); received {shape}.")
    return vector


def weighted_train_loss(per_sample_losses, sample_weights):
    """The weighted training loss of one batch, weights normalised over the batch.

    ``w_i = exp(lambda_i) / sum_j exp(lambda_j)`` (the weights of the batch sum to 1), and
    the loss is ``sum_i w_i * l_i``. Adding the same constant to every lambda_i changes nothing;
    equal log-weights give the plain mean of the losses. Use a numerically stable form: a
    log-weight of 1000 must not overflow.

    Parameters
    ----------
    per_sample_losses : tensor of shape (B,)
        The unreduced losses l_i of the B samples (``reduction="none"``).
    sample_weights : tensor of shape (B,)
        Their log-weights lambda_i (the rows of the model's ``sample_weights`` for this batch).

    Returns
    -------
    loss : scalar tensor (shape ()), differentiable with respect to both inputs.
    """
    if not (isinstance(per_sample_losses, torch.Tensor) and isinstance(sample_weights, torch.Tensor)
            and per_sample_losses.ndim == 1 and per_sample_losses.shape == sample_weights.shape
            and len(sample_weights) > 0):
        describe = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                    for t in (per_sample_losses, sample_weights)]
        raise ValueError("per_sample_losses and sample_weights must be tensors of the same shape "
                         f"(B,) with B >= 1; received {describe[0]} and {describe[1]}. Compute "
                         "the losses with reduction='none' and index sample_weights by the batch.")
        # as the original's DataSelectionHyperOptModel.train_loss: exp(sample_weights), mean
    current_weights = torch.exp(sample_weights)
    return torch.mean(per_sample_losses * current_weights)


def hessian_vector_product(loss_fn, params, vector):
    """H v with H = d^2 loss / dw dw^T, by double backward; H is never formed.

    The gradient g(w) = d loss / dw, built with ``create_graph=True``, is itself differentiable,
    and the gradient of the scalar g(w) . v with respect to w is H v (v held constant).

    Parameters
    ----------
    loss_fn : callable, () -> (loss, outputs)
        Evaluates the loss (see the conventions at the top of this file); call it once.
    params : list of P tensors
        w, with ``requires_grad=True``.
    vector : list of P tensors
        v, shaped like ``params``.

    Returns
    -------
    Hv : list of P detached tensors, shaped like ``params``.
    """
    params = list(params)
    vector = _check_like("vector", vector, params)
        # the original's hessian_vector_product(v), with the loss passed in
    train_loss, _ = loss_fn()
    dtrain_dparam = torch.autograd.grad(train_loss, params, create_graph=True,
                                        retain_graph=True)
    return torch.autograd.grad(dtrain_dparam, params, grad_outputs=vector, retain_graph=True)


def gauss_newton_vector_product(loss_fn, params, vector):
    """G v with the Gauss-Newton matrix G = J^T H_out J; neither G nor J is formed.

    J = d outputs / dw is the Jacobian of the network's outputs (flattened to B*C numbers) and
    H_out = d^2 loss / d outputs^2 the Hessian of the loss with respect to the outputs. G drops
    the second derivatives of the network itself: it is positive semi-definite when the loss is
    convex in the outputs (cross-entropy is), and equals H when the outputs are linear in w
    (softmax regression). Terms of the loss that do not go through ``outputs`` (an L2 penalty
    on w) are not part of G. Three products, all with ``torch.autograd.grad``:

    1. ``Jv = J v``: ``torch.autograd.grad`` gives vector-Jacobian products (u^T J) only. Take
       a dummy ``u = torch.zeros_like(outputs, requires_grad=True)``: ``J^T u`` (the gradient
       of ``outputs`` with ``grad_outputs=u``, built with ``create_graph=True``) is linear in u,
       and its vector-Jacobian product with v, taken with respect to u, is ``J v``.
    2. ``H_out Jv``: a Hessian-vector product of the loss with respect to ``outputs``.
    3. ``J^T (H_out Jv)``: the gradient of ``outputs`` with ``grad_outputs=H_out Jv``.

    Parameters and returns as in :func:`hessian_vector_product`.
    """
    params = list(params)
    vector = _check_like("vector", vector, params)
        # the original's gvp(train_loss, train_logit, parameters, vector)
    train_loss, train_logit = loss_fn()
    u = torch.zeros_like(train_logit, requires_grad=True)
    jt_u = torch.autograd.grad(train_logit, params, grad_outputs=u, create_graph=True)
    jv = torch.autograd.grad(jt_u, u, grad_outputs=vector, retain_graph=True)[0]
    dloss_dlogit = torch.autograd.grad(train_loss, train_logit, create_graph=True)[0]
    hjv = torch.autograd.grad(dloss_dlogit, train_logit, grad_outputs=jv, retain_graph=True)[0]
    return torch.autograd.grad(train_logit, params, grad_outputs=hjv, retain_graph=True)


def neumann_inverse_hvp(matrix_vector_product, vector, K, alpha):
    """H^-1 v by the Neumann series, truncated after K products.

    For symmetric H with eigenvalues in (0, lambda_max] and 0 < alpha < 2 / lambda_max,
    ``H^-1 = alpha * sum_{j >= 0} (I - alpha H)^j``. Keep the terms j = 0 .. K
    ("Optimizing Millions of Hyperparameters by Implicit Differentiation", AISTATS 2020,
    Algorithm 3)::

        v <- vector;  p <- vector
        repeat K times:  v <- v - alpha * H v;   p <- p + v
        return alpha * p

    Divergence. The series converges only if every eigenvalue of I - alpha H lies in (-1, 1),
    i.e. alpha < 2 / lambda_max. You never know lambda_max, but every iteration hands you a
    lower bound of it for free: the Rayleigh quotient ``q = <v, Hv> / <v, v>`` of the current
    v (``<a, b>`` sums over all P tensors). Before each update, raise
    ``NeumannDivergenceError`` (say which alpha and which q) as soon as
    ``alpha * q >= 2 - DIVERGENCE_TOL``; raise it too when ``H v`` holds inf or NaN. Do not
    go on with a divergent series, and do not change alpha yourself: the caller decides.

    Parameters
    ----------
    matrix_vector_product : callable, list of P tensors -> list of P tensors
        v -> H v (for instance your ``hessian_vector_product`` with its loss fixed).
    vector : list of P tensors
        v.
    K : int >= 0
        Number of products (K = 0 returns ``alpha * vector``).
    alpha : float > 0
        The step of the series (``inner_lr`` in the optimizer), ideally about 1 / lambda_max.

    Returns
    -------
    p : list of P detached tensors, shaped like ``vector``: approximately H^-1 v.
    """
    vector = [torch.as_tensor(t).detach() for t in vector]
    if isinstance(K, bool) or not isinstance(K, int) or K < 0:
        raise ValueError(f"K must be an integer >= 0 (the number of Neumann terms after the "
                         f"first); received {K!r}.")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not alpha > 0:
        raise ValueError(f"alpha must be a number > 0 (about 1 / lambda_max of H); received "
                         f"{alpha!r}.")
        # the original's NeumannHyperOptimizer.solve, with the factor alpha and a divergence check
    p = v = vector
    for _ in range(K):
        output = matrix_vector_product(v)
        vhv = sum(float((v_ * o_).sum()) for v_, o_ in zip(v, output, strict=True))
        vv = sum(float((v_ * v_).sum()) for v_ in v)
        if not math.isfinite(vhv) or (vv > 0 and alpha * vhv / vv >= 2 - DIVERGENCE_TOL):
            raise NeumannDivergenceError(f"alpha = {alpha} is too large for this H")
        v = [v_ - alpha * o_ for v_, o_ in zip(v, output, strict=True)]
        p = [v_ + p_ for v_, p_ in zip(v, p, strict=True)]
    return [alpha * p_.detach() for p_ in p]


def hypergradient(train_loss_fn, val_loss_fn, params, hyper_params, inverse_hvp):
    """The hypergradient dL_V/dlambda by the implicit function theorem.

    At an optimum w*(lambda) of the training loss, d L_T / dw (w*(lambda), lambda) = 0 for every
    lambda. Differentiating that identity gives dw*/dlambda = -H^-1 d^2 L_T / dw dlambda^T, with
    H = d^2 L_T / dw dw^T, hence

        dL_V/dlambda = dL_V/dlambda_direct - (d^2 L_T / dlambda dw^T) H^-1 dL_V/dw

    Sign convention: the value returned is the *gradient* of the validation loss (ascent
    direction), the quantity a finite difference of L_V(w*(lambda)) measures; a hyper-optimizer
    steps lambda <- lambda - lr * hypergradient. Steps:

    1. ``dL_V/dw`` and the direct ``dL_V/dlambda`` (zero where L_V does not use lambda, as in
       data selection: ``allow_unused=True``, then zeros);
    2. ``p = inverse_hvp(dL_V/dw)``;
    3. the mixed term ``(d^2 L_T / dlambda dw^T) p``: the gradient with respect to lambda of
       ``(dL_T/dw) . p``, with dL_T/dw built with ``create_graph=True`` and p held constant;
    4. direct minus mixed.

    Parameters
    ----------
    train_loss_fn : callable, () -> (L_T, outputs)
        The training loss at the current params and hyper_params (L_T depends on both).
    val_loss_fn : callable, () -> L_V
        The validation loss: a scalar tensor.
    params : list of P tensors
        w (``requires_grad=True``), ideally near an optimum of L_T.
    hyper_params : list of Q tensors
        lambda (``requires_grad=True``).
    inverse_hvp : callable, list of P tensors -> list of P tensors
        v -> (approximately) H^-1 v: the exact solve in checks, your Neumann series in training.

    Returns
    -------
    list of Q detached tensors shaped like ``hyper_params``: dL_V/dlambda.
    """
    params, hyper_params = list(params), list(hyper_params)
        # the original's BaseHyperOptimizer.step, up to the hyper-optimizer's step
    val_loss = val_loss_fn()
    dval_dparam = torch.autograd.grad(val_loss, params, retain_graph=True)
    p = inverse_hvp(dval_dparam)
    train_loss, _ = train_loss_fn()
    minus_dtrain_dparam = torch.autograd.grad(-train_loss, params, create_graph=True)
    indirect = torch.autograd.grad(minus_dtrain_dparam, hyper_params, grad_outputs=p)
    direct = torch.autograd.grad(val_loss, hyper_params, allow_unused=True)
    return [d + i if d is not None else i for d, i in zip(direct, indirect, strict=True)]
