# The original's Neumann solve pasted as it was: v + alpha * H v (the terms grow), no factor alpha,
# no divergence check.
# (appended to original_names.py: its definitions replace those there)

import numbers

import torch


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
        # the original's NeumannHyperOptimizer.solve, as it was (inner_lr is alpha)
    p = v = vector
    for _ in range(K):
        output = matrix_vector_product(v)
        v = [v_ + alpha * o_ for v_, o_ in zip(v, output, strict=True)]
        p = [v_ + p_ for v_, p_ in zip(v, p, strict=True)]
        # early stopping?
    return p
