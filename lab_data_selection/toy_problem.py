"""Small problems with exact answers, to check your functions (used by check_gradients.py and by
the tests).

* :class:`SoftmaxRegressionProblem`: weighted softmax regression in float64. Training loss
  ``L_T(theta, lambda) = (1/N) sum_i sigmoid(lambda_i) CE(x_i, y_i) + (l2/2) ||theta||^2``
  (theta = W and b), validation loss ``L_V = mean CE`` on the validation set, plus optionally a
  direct term ``direct * mean(sigmoid(lambda))``. It is strongly convex in theta, so
  ``solve()`` (Newton's method) finds w*(lambda) to machine precision, the dense Hessian is
  small (650 x 650 on sklearn's digits), and finite differences of
  ``lambda -> L_V(w*(lambda))`` give the true hypergradient.
* :class:`ClassifierProblem`: the mean cross-entropy of any network on a batch.
* :class:`DenseOperator`: v -> H v for a given matrix H, on lists of tensors.

The methods named after your functions call them (from ``submission``) with this problem's
losses, and take and return flat float64 vectors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _split(flat, like) -> list[torch.Tensor]:
    flat = torch.as_tensor(flat, dtype=like[0].dtype)
    if flat.shape != (sum(t.numel() for t in like),):
        raise ValueError(f"expected a flat vector of {sum(t.numel() for t in like)} numbers; "
                         f"received shape {tuple(flat.shape)}.")
    out, start = [], 0
    for t in like:
        out.append(flat[start:start + t.numel()].reshape(t.shape).clone())
        start += t.numel()
    return out


class _Wiring:
    """Your functions applied to ``self.train_loss`` / ``self.val_loss`` / ``self.params``."""

    params: list[torch.Tensor]
    hyper_params: list[torch.Tensor]

    def train_loss(self):
        raise NotImplementedError

    def val_loss(self):
        raise NotImplementedError

    def flat_params(self) -> torch.Tensor:
        return _flat([p.detach() for p in self.params])

    def set_flat_params(self, flat) -> None:
        with torch.no_grad():
            for p, value in zip(self.params, _split(flat, self.params), strict=True):
                p.copy_(value)

    def _loss_fn(self, reuse_graph: bool):
        if not reuse_graph:
            return self.train_loss
        evaluated = self.train_loss()
        return lambda: evaluated

    def product(self, v_flat, gauss_newton: bool = False, reuse_graph: bool = False,
                repeat: int = 1) -> torch.Tensor:
        """Your H v (or G v) as a flat vector; ``reuse_graph`` hands your function the same
        graph at every one of ``repeat`` calls."""
        from submission import gauss_newton_vector_product, hessian_vector_product

        fn = gauss_newton_vector_product if gauss_newton else hessian_vector_product
        loss_fn = self._loss_fn(reuse_graph)
        for _ in range(repeat):
            out = fn(loss_fn, self.params, _split(v_flat, self.params))
        return _flat(out).detach()

    def neumann(self, v_flat, K: int, alpha: float, gauss_newton: bool = False) -> torch.Tensor:
        """Your Neumann series with your product, as a flat vector."""
        from submission import (
            gauss_newton_vector_product,
            hessian_vector_product,
            neumann_inverse_hvp,
        )

        fn = gauss_newton_vector_product if gauss_newton else hessian_vector_product
        out = neumann_inverse_hvp(lambda v: fn(self.train_loss, self.params, v),
                                  _split(v_flat, self.params), K, alpha)
        return _flat(out).detach()

    def hypergradient(self, K: int | None = None, alpha: float | None = None,
                      gauss_newton: bool = False) -> torch.Tensor:
        """Your hypergradient, flat: with the exact H^-1 (``K=None``) or your Neumann series."""
        from submission import (
            gauss_newton_vector_product,
            hessian_vector_product,
            hypergradient,
            neumann_inverse_hvp,
        )

        if K is None:
            hessian = self.dense_hessian()

            def inverse_hvp(v):
                return _split(torch.linalg.solve(hessian, _flat(v).to(hessian.dtype)),
                              self.params)
        else:
            fn = gauss_newton_vector_product if gauss_newton else hessian_vector_product

            def inverse_hvp(v):
                return neumann_inverse_hvp(lambda u: fn(self.train_loss, self.params, u),
                                           v, K, alpha)
        out = hypergradient(self.train_loss, self.val_loss, self.params, self.hyper_params,
                            inverse_hvp)
        return _flat(out).detach()

    def dense_hessian(self) -> torch.Tensor:
        raise NotImplementedError


class SoftmaxRegressionProblem(_Wiring):
    """Weighted softmax regression with an exact inner solution (see the module doc).

    Parameters
    ----------
    X_train : ndarray of shape (N, D);  y_train : ndarray of shape (N,), int in 0..C-1
    X_val : ndarray of shape (M, D);    y_val : ndarray of shape (M,)
    lam : ndarray of shape (N,)
        The hyperparameters lambda (per-sample weights sigmoid(lambda)).
    theta : ndarray of shape ((D + 1) * C,), optional
        Flat [W (D, C) row by row, b (C,)]; default zeros.
    l2 : float, default 1e-2
    direct : float, default 0.0
        Weight of a term of L_V that depends on lambda directly.
    num_classes : int, default 10
    """

    def __init__(self, X_train, y_train, X_val, y_val, lam, theta=None, l2: float = 1e-2,
                 direct: float = 0.0, num_classes: int = 10):
        f64 = torch.float64
        self.X, self.Xv = (torch.as_tensor(np.asarray(a), dtype=f64) for a in (X_train, X_val))
        self.y, self.yv = (torch.as_tensor(np.asarray(a), dtype=torch.int64)
                           for a in (y_train, y_val))
        if self.X.ndim != 2 or self.y.shape != (len(self.X),) or self.Xv.shape[1:] != (
                self.X.shape[1],) or self.yv.shape != (len(self.Xv),):
            raise ValueError(f"expected X_train (N, D), y_train (N,), X_val (M, D), y_val (M,); "
                             f"received {tuple(self.X.shape)}, {tuple(self.y.shape)}, "
                             f"{tuple(self.Xv.shape)}, {tuple(self.yv.shape)}.")
        n, d = self.X.shape
        self.l2, self.direct, self.num_classes = float(l2), float(direct), int(num_classes)
        self.W = torch.zeros(d, num_classes, dtype=f64, requires_grad=True)
        self.b = torch.zeros(num_classes, dtype=f64, requires_grad=True)
        self.lam = torch.as_tensor(np.asarray(lam), dtype=f64).clone().requires_grad_(True)
        if self.lam.shape != (n,):
            raise ValueError(f"lam must have shape ({n},); received {tuple(self.lam.shape)}.")
        self.params, self.hyper_params = [self.W, self.b], [self.lam]
        if theta is not None:
            self.set_flat_params(theta)

    def train_loss(self):
        """(L_T, logits (N, C))."""
        logits = self.X @ self.W + self.b
        ce = nn.functional.cross_entropy(logits, self.y, reduction="none")
        penalty = 0.5 * self.l2 * ((self.W ** 2).sum() + (self.b ** 2).sum())
        return (torch.sigmoid(self.lam) * ce).mean() + penalty, logits

    def val_loss(self):
        """L_V: a scalar."""
        loss = nn.functional.cross_entropy(self.Xv @ self.W + self.b, self.yv)
        if self.direct:
            loss = loss + self.direct * torch.sigmoid(self.lam).mean()
        return loss

    def set_lam(self, lam) -> None:
        with torch.no_grad():
            self.lam.copy_(torch.as_tensor(np.asarray(lam), dtype=self.lam.dtype))

    def _gradient_and_hessian(self):
        with torch.no_grad():
            Xa = torch.cat([self.X, torch.ones(len(self.X), 1, dtype=self.X.dtype)], dim=1)
            P = torch.softmax(self.X @ self.W + self.b, dim=1)
            s = torch.sigmoid(self.lam) / len(self.X)
            R = P - nn.functional.one_hot(self.y, self.num_classes).to(P.dtype)
            theta = torch.cat([self.W, self.b[None]], dim=0)
            grad = (Xa.T @ (s[:, None] * R) + self.l2 * theta).reshape(-1)
            A = torch.diag_embed(P) - P[:, :, None] * P[:, None, :]
            T = (s[:, None, None, None] * Xa[:, :, None, None] * A[:, None]).reshape(len(Xa), -1)
            d, c = Xa.shape[1], self.num_classes
            H = (Xa.T @ T).reshape(d, d, c, c).permute(0, 2, 1, 3).reshape(d * c, d * c)
            H = H + self.l2 * torch.eye(d * c, dtype=H.dtype)
        return grad, H

    def dense_hessian(self) -> torch.Tensor:
        """d^2 L_T / dtheta dtheta^T at the current theta, ((D+1) C, (D+1) C), exact."""
        return self._gradient_and_hessian()[1]

    def solve(self, tol: float = 1e-12, max_iter: int = 50) -> int:
        """Newton's method to ||dL_T/dtheta|| < tol; theta becomes w*(lambda). Iterations."""
        for iteration in range(1, max_iter + 1):
            grad, H = self._gradient_and_hessian()
            step = torch.linalg.solve(H, grad)
            self.set_flat_params(self.flat_params() - step)
            if float(grad.norm()) < tol:
                return iteration
        raise RuntimeError(f"Newton did not reach ||grad|| < {tol:g} in {max_iter} iterations.")

    def val_loss_at_optimum(self, lam) -> float:
        """L_V(w*(lam)) (solves from the current theta, then restores theta and lambda)."""
        theta, old = self.flat_params(), self.lam.detach().clone()
        self.set_lam(lam)
        try:
            self.solve()
            with torch.no_grad():
                return float(self.val_loss())
        finally:
            self.set_flat_params(theta)
            self.set_lam(old)

    def finite_difference(self, direction, h: float = 1e-2) -> float:
        """(L_V(w*(lam + h u)) - L_V(w*(lam - h u))) / (2h): the derivative along u."""
        lam = self.lam.detach().clone()
        u = torch.as_tensor(np.asarray(direction), dtype=lam.dtype)
        return (self.val_loss_at_optimum(lam + h * u)
                - self.val_loss_at_optimum(lam - h * u)) / (2 * h)


class ClassifierProblem(_Wiring):
    """The mean cross-entropy of ``network`` on (X, y), in float64.

    Parameters
    ----------
    network : nn.Module
        Cast to float64 here.
    X : ndarray of shape (B, ...);  y : ndarray of shape (B,)
    """

    def __init__(self, network: nn.Module, X, y):
        self.network = network.double()
        self.X = torch.as_tensor(np.asarray(X), dtype=torch.float64)
        self.y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
        self.params = list(self.network.parameters())
        self.hyper_params = []

    def train_loss(self):
        logits = self.network(self.X)
        return nn.functional.cross_entropy(logits, self.y), logits


class DenseOperator:
    """``op(v)`` = H v for a list of tensors v of the given shapes; ``calls`` counts them.

    Parameters
    ----------
    H : array of shape (n, n)
    shapes : list of tuples whose sizes sum to n
    """

    def __init__(self, H, shapes):
        self.H = torch.as_tensor(np.asarray(H), dtype=torch.float64)
        self.shapes = [tuple(s) for s in shapes]
        self.calls = 0

    def __call__(self, vector):
        self.calls += 1
        like = [torch.empty(s, dtype=torch.float64) for s in self.shapes]
        flat = _flat([torch.as_tensor(v, dtype=torch.float64) for v in vector])
        return _split(self.H @ flat, like)

    def split(self, flat) -> list[torch.Tensor]:
        """A flat vector as a list of tensors of ``shapes``."""
        return _split(flat, [torch.empty(s, dtype=torch.float64) for s in self.shapes])


def weighted_loss_gradients(per_sample_losses, log_weights):
    """(loss, d loss / d losses, d loss / d log_weights) of your ``weighted_train_loss``."""
    from submission import weighted_train_loss

    losses = torch.as_tensor(per_sample_losses).detach().clone().requires_grad_(True)
    log_weights = torch.as_tensor(log_weights).detach().clone().requires_grad_(True)
    loss = weighted_train_loss(losses, log_weights)
    grads = torch.autograd.grad(loss, [losses, log_weights], allow_unused=True)
    grads = [torch.zeros_like(t) if g is None else g for g, t in
             zip(grads, (losses, log_weights), strict=True)]
    return loss.detach(), grads[0].detach(), grads[1].detach()
