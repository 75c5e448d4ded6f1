# The Neumann sum started at zero instead of at v: the j = 0 term (alpha * v) is missing, so
# the result is off by alpha * v for every K.
import torch


def neumann_inverse_hvp(matrix_vector_product, vector, K, alpha):
    v = [torch.as_tensor(t).detach().clone() for t in vector]
    p = [torch.zeros_like(t) for t in v]
    for _ in range(K):
        hv = [h.detach() for h in matrix_vector_product(v)]
        vv = sum(float((a * a).sum()) for a in v)
        q = sum(float((a * h).sum()) for a, h in zip(v, hv, strict=True)) / vv if vv > 0 else 0.0
        if alpha * q >= 2 - DIVERGENCE_TOL:  # noqa: F821
            raise NeumannDivergenceError(f"alpha = {alpha:g} diverges")  # noqa: F821
        v = [a - alpha * h for a, h in zip(v, hv, strict=True)]
        p = [b + a for b, a in zip(p, v, strict=True)]
    return [alpha * b for b in p]
