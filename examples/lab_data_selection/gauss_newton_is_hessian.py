# "Gauss-Newton" product that is the full Hessian product: equal for softmax regression, but
# not J^T H_out J on a non-linear network (and indefinite there).


def gauss_newton_vector_product(loss_fn, params, vector):
    return hessian_vector_product(loss_fn, params, vector)  # noqa: F821
