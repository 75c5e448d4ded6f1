# The original's step(train_loss_fun, val_loss) took the validation loss as a tensor; here it is
# a function, and the code uses it as a tensor.
# (appended to original_names.py: its definitions replace those there)

import torch


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
    val_loss = val_loss_fn  # the original's step(train_loss_fun, val_loss) got a tensor
    dval_dparam = torch.autograd.grad(val_loss, params, retain_graph=True)
    p = inverse_hvp(dval_dparam)
    train_loss, _ = train_loss_fn()
    minus_dtrain_dparam = torch.autograd.grad(-train_loss, params, create_graph=True)
    indirect = torch.autograd.grad(minus_dtrain_dparam, hyper_params, grad_outputs=p)
    direct = torch.autograd.grad(val_loss, hyper_params, allow_unused=True)
    return [d + i if d is not None else i for d, i in zip(direct, indirect, strict=True)]
