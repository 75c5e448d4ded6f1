# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
# Adversarial: the hypergradient of each hyperparameter comes back as a (20000, 1, 1) tensor,
# which numpy or torch would broadcast against the (N,) log-weights into 20000 x N. The grader
# refuses it by its shape before computing anything with it.
_exact_hypergradient = hypergradient


def hypergradient(train_loss_fn, val_loss_fn, params, hyper_params, inverse_hvp):
    grads = _exact_hypergradient(train_loss_fn, val_loss_fn, params, hyper_params, inverse_hvp)
    return [g.reshape(-1)[:1].expand(20000).reshape(20000, 1, 1).clone() for g in grads]
