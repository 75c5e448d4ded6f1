# The Neumann series without the divergence check: alpha >= 2 / lambda_max is silently used and
# a huge, meaningless vector comes back.
import torch


def neumann_inverse_hvp(matrix_vector_product, vector, K, alpha):
    v = [torch.as_tensor(t).detach().clone() for t in vector]
    p = [t.clone() for t in v]
    for _ in range(K):
        hv = matrix_vector_product(v)
        v = [a - alpha * h.detach() for a, h in zip(v, hv, strict=True)]
        p = [b + a for b, a in zip(p, v, strict=True)]
    return [alpha * b for b in p]
