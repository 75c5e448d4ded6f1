# The implicit term added instead of subtracted: dL_V/dlambda = direct + mixed (the minus sign of
# dw*/dlambda = -H^-1 d^2 L_T / dw dlambda^T is lost). Finite differences catch it, and the
# weights then move away from the target digits.
import torch

zeros_for_none = _zeros_for_none  # noqa: F821 - the reference's helper


def hypergradient(train_loss_fn, val_loss_fn, params, hyper_params, inverse_hvp):
    params, hyper_params = list(params), list(hyper_params)
    val_loss = val_loss_fn()
    dval_dw = zeros_for_none(torch.autograd.grad(val_loss, params, retain_graph=True,
                                                 allow_unused=True), params)
    direct = zeros_for_none(torch.autograd.grad(val_loss, hyper_params, allow_unused=True),
                            hyper_params)
    p = [t.detach() for t in inverse_hvp(dval_dw)]
    train_loss, _ = train_loss_fn()
    dtrain_dw = torch.autograd.grad(train_loss, params, create_graph=True)
    mixed = zeros_for_none(torch.autograd.grad(dtrain_dw, hyper_params, grad_outputs=p,
                                               allow_unused=True), hyper_params)
    return [(d + m).detach() for d, m in zip(direct, mixed, strict=True)]
