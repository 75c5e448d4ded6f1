# The original's Neumann solve pasted as it was: v + alpha * H v (the terms grow), no factor alpha,
# no divergence check.
# (appended to original_names.py: its definitions replace those there)

import numbers

import torch


def neumann_inverse_hvp(matrix_vector_product, vector, K, alpha):
    """As in original_names.py (its docstring there)."""
    vector = [torch.as_tensor(t).detach() for t in vector]
    if isinstance(K, bool) or not isinstance(K, int) or K < 0:
        raise ValueError(f"K must be an integer >= 0 (the number of Neumann terms after the "
                         f"first); received {K!r}.")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not alpha > 0:
        raise ValueError(f"alpha must be a number > 0 (about 1 / lambda_max of H); received "
                         f"{alpha!r}.")
        # the original's NeumannHyperOptimizer.solve, as it was (inner_lr is alpha)
    p = v = vector
    for _ in range(K):
        output = matrix_vector_product(v)
        v = [v_ + alpha * o_ for v_, o_ in zip(v, output, strict=True)]
        p = [v_ + p_ for v_, p_ in zip(v, p, strict=True)]
        # early stopping?
    return p
