"""Trusted answers for the hidden tests, computed in the grader (never sent to the worker).

The exact problem, in numpy float64: weighted softmax regression on sklearn's digits,
``L_T(theta, lam) = (1/N) sum_i sigmoid(lam_i) CE_i + (l2/2) ||theta||^2`` with theta the
(D+1, C) matrix [W; b] flattened row by row, ``L_V = mean CE`` on the validation 6s and 7s
(+ ``direct * mean(sigmoid(lam))``). Newton's method gives w*(lam) to machine precision; the
exact hypergradient is ``direct_grad - M^T H^-1 dL_V/dtheta`` with M = d^2 L_T / dtheta dlam^T.

Also: dense Hessians and Gauss-Newton matrices of small torch networks (``torch.func``), and the
reference Hessian-vector product for networks too large for a dense Hessian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from common.data import load_digits_split

TARGETS = (6, 7)
L2 = 1e-2


def _softmax(Z: np.ndarray) -> np.ndarray:
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _augment(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((len(X), 1))])


@dataclass
class ExactProblem:
    """Data of the exact problem (float64) and its hyperparameters."""

    X: np.ndarray
    y: np.ndarray
    Xv: np.ndarray
    yv: np.ndarray
    lam: np.ndarray
    l2: float = L2
    direct: float = 0.0
    num_classes: int = 10

    @property
    def n_params(self) -> int:
        return (self.X.shape[1] + 1) * self.num_classes

    def _onehot(self, y):
        return np.eye(self.num_classes)[y]

    def train_grad_hess(self, theta: np.ndarray, lam: np.ndarray | None = None):
        lam = self.lam if lam is None else lam
        Xa = _augment(self.X)
        T = theta.reshape(Xa.shape[1], self.num_classes)
        P = _softmax(Xa @ T)
        s = _sigmoid(lam) / len(Xa)
        grad = (Xa.T @ (s[:, None] * (P - self._onehot(self.y))) + self.l2 * T).reshape(-1)
        d, c = Xa.shape[1], self.num_classes
        A = P[:, :, None] * (np.eye(c)[None] - P[:, None, :])
        T = ((Xa * s[:, None])[:, :, None, None] * A[:, None]).reshape(len(Xa), -1)
        H = (Xa.T @ T).reshape(d, d, c, c).transpose(0, 2, 1, 3).reshape(d * c, d * c)
        return grad, H + self.l2 * np.eye(d * c)

    def solve(self, lam: np.ndarray | None = None, theta0: np.ndarray | None = None,
              tol: float = 1e-12) -> np.ndarray:
        theta = np.zeros(self.n_params) if theta0 is None else theta0.copy()
        for _ in range(60):
            grad, H = self.train_grad_hess(theta, lam)
            theta = theta - np.linalg.solve(H, grad)
            if np.linalg.norm(grad) < tol:
                return theta
        raise RuntimeError("Newton did not converge on the exact problem")

    def val_loss(self, theta: np.ndarray, lam: np.ndarray | None = None) -> float:
        lam = self.lam if lam is None else lam
        Xa = _augment(self.Xv)
        P = _softmax(Xa @ theta.reshape(Xa.shape[1], self.num_classes))
        loss = -np.mean(np.log(P[np.arange(len(P)), self.yv]))
        return float(loss + self.direct * _sigmoid(lam).mean())

    def val_grad(self, theta: np.ndarray) -> np.ndarray:
        Xa = _augment(self.Xv)
        P = _softmax(Xa @ theta.reshape(Xa.shape[1], self.num_classes))
        return (Xa.T @ (P - self._onehot(self.yv)) / len(Xa)).reshape(-1)

    def hypergradient(self, theta: np.ndarray) -> np.ndarray:
        """The exact implicit hypergradient at theta = w*(lam)."""
        _, H = self.train_grad_hess(theta)
        p = np.linalg.solve(H, self.val_grad(theta)).reshape(-1, self.num_classes)
        Xa = _augment(self.X)
        R = _softmax(Xa @ theta.reshape(Xa.shape[1], self.num_classes)) - self._onehot(self.y)
        sig = _sigmoid(self.lam)
        mixed = sig * (1 - sig) / len(Xa) * np.einsum("ia,ak,ik->i", Xa, p, R)
        direct = self.direct * sig * (1 - sig) / len(self.lam)
        return direct - mixed

    def finite_difference(self, theta: np.ndarray, u: np.ndarray, h: float = 1e-2) -> float:
        """Central difference of lam -> L_V(w*(lam)) along u, inner problem re-solved."""
        plus, minus = self.lam + h * u, self.lam - h * u
        return (self.val_loss(self.solve(plus, theta), plus)
                - self.val_loss(self.solve(minus, theta), minus)) / (2 * h)


def digits_problem(seed: int = 0, direct: float = 0.0) -> ExactProblem:
    """The exact problem on sklearn's digits; lam ~ N(0, 1) drawn with ``seed``."""
    d = load_digits_split()
    keep = np.isin(d.y_val, TARGETS)
    lam = np.random.default_rng(seed).normal(size=len(d.y_train))
    return ExactProblem(d.X_train.astype(np.float64), d.y_train, d.X_val[keep].astype(np.float64),
                        d.y_val[keep], lam, direct=direct)


# -- small torch networks ------------------------------------------------------------------------
def _functional_loss(network, X, y):
    from torch.func import functional_call

    names = [n for n, _ in network.named_parameters()]
    shapes = [p.shape for _, p in network.named_parameters()]
    sizes = [p.numel() for _, p in network.named_parameters()]

    def unflatten(theta):
        return {n: t.reshape(s) for n, t, s in zip(names, torch.split(theta, sizes), shapes,
                                                     strict=True)}

    def logits(theta):
        return functional_call(network, unflatten(theta), (X,))

    def loss(theta):
        return torch.nn.functional.cross_entropy(logits(theta), y)

    return logits, loss


def dense_hessian(network, X, y, theta) -> torch.Tensor:
    """d^2 mean-CE / dtheta^2 of ``network`` (float64) at the flat parameters ``theta``."""
    _, loss = _functional_loss(network, X, y)
    return torch.autograd.functional.hessian(loss, theta)


def dense_gauss_newton(network, X, y, theta) -> torch.Tensor:
    """J^T H_out J for the mean cross-entropy of ``network`` at ``theta``."""
    logits_fn, _ = _functional_loss(network, X, y)
    out = logits_fn(theta).detach()
    J = torch.autograd.functional.jacobian(logits_fn, theta).reshape(out.numel(), -1)
    P = torch.softmax(out, dim=1)
    blocks = (torch.diag_embed(P) - P[:, :, None] * P[:, None, :]) / len(out)
    H_out = torch.block_diag(*blocks)
    return J.T @ H_out @ J


def reference_hvp(network, X, y, v: torch.Tensor) -> torch.Tensor:
    """H v by double backward (trusted), flat, for networks too large for a dense Hessian."""
    params = list(network.parameters())
    loss = torch.nn.functional.cross_entropy(network(X), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    pieces = torch.split(v, [p.numel() for p in params])
    hv = torch.autograd.grad(grads, params, grad_outputs=[t.reshape(p.shape) for t, p in
                                                          zip(pieces, params, strict=True)])
    return torch.cat([h.reshape(-1) for h in hv]).detach()


def neumann_reference(H: np.ndarray, v: np.ndarray, K: int, alpha: float) -> np.ndarray:
    """alpha * sum_{j=0}^{K} (I - alpha H)^j v."""
    term, total = v.copy(), v.copy()
    for _ in range(K):
        term = term - alpha * (H @ term)
        total = total + term
    return alpha * total


def weighted_loss_reference(losses: np.ndarray, log_weights: np.ndarray):
    """(loss, d loss / d losses, d loss / d log_weights) of the normalised weighted loss."""
    w = np.exp(log_weights - log_weights.max())
    w = w / w.sum()
    loss = float(w @ losses)
    return loss, w, w * (losses - loss)


# -- the uniform-weights baseline of the performance test -----------------------------------------
BASELINE = {"network": "simple", "lr": 0.01, "momentum": 0.9, "batch_size": 64}


def uniform_baseline(network_module, normalise, data, epochs: int, seed: int) -> np.ndarray:
    """Logits of ``data.test_images`` after training with uniform weights: the loop of
    ``MNISTDataSelector(learn_weights=False)`` (same initial network, batch order and cosine
    schedule for the same seed), written out with plain torch."""
    with torch.random.fork_rng():
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        net = network_module.build_network(BASELINE["network"])
        x, y = normalise(data.train_images), torch.as_tensor(data.train_labels)
        params = list(net.parameters())
        optimizer = torch.optim.SGD(params, lr=BASELINE["lr"], momentum=BASELINE["momentum"])
        steps = len(y) // BASELINE["batch_size"]
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps)
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=generator)
            for step in range(steps):
                idx = order[step * BASELINE["batch_size"]:(step + 1) * BASELINE["batch_size"]]
                loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
                for param, grad in zip(params, torch.autograd.grad(loss, params), strict=True):
                    param.grad = grad
                optimizer.step()
                schedule.step()
        with torch.no_grad():
            return net(normalise(data.test_images)).numpy().astype(np.float64)
