# The original's step(train_loss_fun, val_loss) took the validation loss as a tensor; here it is
# a function, and the code uses it as a tensor.
# (appended to original_names.py: its definitions replace those there)

import torch


def hypergradient(train_loss_fn, val_loss_fn, params, hyper_params, inverse_hvp):
    """As in original_names.py (its docstring there)."""
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
