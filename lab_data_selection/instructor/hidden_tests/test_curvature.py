"""Hidden tests of the curvature products: Hessian-vector and Gauss-Newton-vector products.

The networks are built twice from the lab's ``network.py``: in the worker (the student's
products) and here (dense Hessians and Gauss-Newton matrices with trusted code), with the same
float64 parameters sent from here.
"""

import numpy as np
import pytest
import torch
from reference import dense_gauss_newton, dense_hessian, reference_hvp
from selection_checks import flat_vector, relative_error

TINY_NETS = {
    "tanh MLP": ("mlp", dict(num_layers=3, input_shape=(5,), inter_dim=4, num_classes=3,
                             activation="tanh")),
    "ReLU SimpleModel": ("simple", dict(input_shape=(2, 3), hidden=5, num_classes=4)),
}


def _setup(toy, fixed, lab_fixed, kind, kwargs, n_samples=12, seed=0, scale=0.8):
    """(worker problem, grader network, X, y, theta): the same float64 net on both sides."""
    rng = np.random.default_rng(seed)
    net = lab_fixed("network").build_network(kind, **kwargs).double()
    n_params = sum(p.numel() for p in net.parameters())
    theta = rng.normal(0.0, scale, n_params)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.tensor(theta), net.parameters())
    X = rng.normal(size=(n_samples, *net.input_shape))
    y = rng.integers(0, kwargs["num_classes"], n_samples)
    problem = toy.ClassifierProblem(fixed("network").build_network(kind, **kwargs), X, y)
    problem.set_flat_params(torch.tensor(theta))
    return problem, net, torch.tensor(X), torch.tensor(y), torch.tensor(theta)


@pytest.mark.points(3)
@pytest.mark.time_limit(60)
@pytest.mark.hint("g = torch.autograd.grad(loss, params, create_graph=True); then "
                  "torch.autograd.grad(g, params, grad_outputs=vector, retain_graph=True).")
@pytest.mark.parametrize("name", list(TINY_NETS))
def test_hvp_matches_dense_hessian(submission, toy, fixed, lab_fixed, name):
    """hessian_vector_product equals the dense Hessian times v on tiny networks"""
    kind, kwargs = TINY_NETS[name]
    problem, net, X, y, theta = _setup(toy, fixed, lab_fixed, kind, kwargs)
    H = dense_hessian(net, X, y, theta).numpy()
    for seed in (1, 2):
        v = np.random.default_rng(seed).normal(size=len(theta))
        got = flat_vector(problem.product(torch.tensor(v)), "hessian_vector_product", len(v))
        error = relative_error(got, H @ v)
        assert error <= 1e-8, f"relative error {error:.2e} against the dense Hessian (<= 1e-8)"


@pytest.mark.points(4)
@pytest.mark.time_limit(60)
@pytest.mark.slow_hint("Building the Hessian (or its columns one by one) is what makes a "
                       "Hessian-vector product slow: with 100,000 weights it has 10^10 entries. "
                       "Two torch.autograd.grad calls give H v in about two backward passes.")
@pytest.mark.hint("Never build the Hessian: with 100,000 weights it has 10^10 entries. Two "
                  "torch.autograd.grad calls give H v in about the time of two backward "
                  "passes. Pass retain_graph=True: the same graph may be handed to you twice.")
def test_hvp_on_a_large_network_twice_on_one_graph(submission, toy, fixed, lab_fixed):
    """hessian_vector_product on a 100,000-weight MLP, twice on one reused graph, no dense H"""
    kwargs = dict(num_layers=2, input_shape=(28, 28), inter_dim=128, num_classes=10)
    problem, net, X, y, theta = _setup(toy, fixed, lab_fixed, "mlp", kwargs, n_samples=32,
                                       scale=0.05)
    v = torch.tensor(np.random.default_rng(3).normal(size=len(theta)))
    got = flat_vector(problem.product(v, reuse_graph=True, repeat=2), "hessian_vector_product",
                  len(theta))
    error = relative_error(got, reference_hvp(net, X, y, v).numpy())
    assert error <= 1e-8, f"relative error {error:.2e} against the reference H v (<= 1e-8)"


@pytest.mark.points(4)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Jv with the dummy-u trick, then the Hessian of the loss with respect to the "
                  "outputs times Jv, then J^T of that: three torch.autograd.grad calls.")
def test_gauss_newton_equals_hessian_for_softmax_regression(submission, toy, fixed, lab_fixed):
    """gauss_newton_vector_product equals the Hessian product for softmax regression (1e-8)"""
    kwargs = dict(num_layers=1, input_shape=(8,), num_classes=5)
    problem, net, X, y, theta = _setup(toy, fixed, lab_fixed, "mlp", kwargs, n_samples=20)
    H = dense_hessian(net, X, y, theta).numpy()
    v = np.random.default_rng(4).normal(size=len(theta))
    got = flat_vector(problem.product(torch.tensor(v), gauss_newton=True),
                  "gauss_newton_vector_product", len(v))
    error = relative_error(got, H @ v)
    assert error <= 1e-8, (f"relative error {error:.2e}: for a linear model G = H exactly "
                           "(<= 1e-8)")


@pytest.mark.points(4)
@pytest.mark.time_limit(60)
@pytest.mark.hint("G = J^T H_out J leaves out the network's own second derivatives: on a "
                  "non-linear network it differs from H. Do not return H v.")
def test_gauss_newton_matches_dense_on_a_nonlinear_network(submission, toy, fixed, lab_fixed):
    """gauss_newton_vector_product equals J^T H_out J v on a tanh network (not H v)"""
    kind, kwargs = TINY_NETS["tanh MLP"]
    problem, net, X, y, theta = _setup(toy, fixed, lab_fixed, kind, kwargs, scale=1.2)
    G = dense_gauss_newton(net, X, y, theta).numpy()
    H = dense_hessian(net, X, y, theta).numpy()
    v = np.random.default_rng(5).normal(size=len(theta))
    got = flat_vector(problem.product(torch.tensor(v), gauss_newton=True),
                  "gauss_newton_vector_product", len(v))
    error = relative_error(got, G @ v)
    if error > 1e-8 and relative_error(got, H @ v) <= 1e-8:
        raise AssertionError("you returned the Hessian product H v, not the Gauss-Newton "
                             "product J^T H_out J v")
    assert error <= 1e-8, f"relative error {error:.2e} against the dense J^T H_out J (<= 1e-8)"
