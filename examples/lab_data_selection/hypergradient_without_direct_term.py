# Only the implicit term: right for data selection (L_V does not use lambda), wrong as soon as
# the validation loss depends on the hyperparameters directly.
import torch

zeros_for_none = _zeros_for_none  # noqa: F821 - the reference's helper


def hypergradient(train_loss_fn, val_loss_fn, params, hyper_params, inverse_hvp):
    params, hyper_params = list(params), list(hyper_params)
    dval_dw = zeros_for_none(torch.autograd.grad(val_loss_fn(), params, allow_unused=True),
                             params)
    p = [t.detach() for t in inverse_hvp(dval_dw)]
    train_loss, _ = train_loss_fn()
    dtrain_dw = torch.autograd.grad(train_loss, params, create_graph=True)
    mixed = zeros_for_none(torch.autograd.grad(dtrain_dw, hyper_params, grad_outputs=p,
                                               allow_unused=True), hyper_params)
    return [-m.detach() for m in mixed]
