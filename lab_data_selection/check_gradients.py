"""Check your functions against exact answers and finite differences (about 20 s on a CPU).

    python check_gradients.py
    python check_gradients.py --seed 2        # another lambda

It exits with status 1 when any check prints ``CHECK`` (0 when all are ``ok``), so that a
script or CI job can rely on it.

The exact problem of toy_problem.py: weighted softmax regression on sklearn's 8x8 digits in
float64 (1077 training digits, weights sigmoid(lambda), L2 1e-2, validation loss on the 6s and
7s). Newton's method solves the inner problem to machine precision, so

* your Hessian-vector product is compared with the dense Hessian (650 x 650);
* your Gauss-Newton product with the Hessian minus its L2 part (for a linear model G = H);
* your Neumann series with the exact solve, for several K, and at alpha = 2.5 / lambda_max
  (it must report divergence);
* your hypergradient (with the exact inverse, then with your Neumann series) with central finite
  differences of lambda -> L_V(w*(lambda)), the inner problem re-solved at every lambda.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from toy_problem import SoftmaxRegressionProblem

from common.cli import dataclass_parser
from common.data import load_digits_split
from common.threads import set_thread_budget


@dataclass
class CheckArgs:
    """Settings of ``check_gradients.py`` (every field is a command-line flag)."""

    seed: int = 0
    directions: int = 3


HELP = {"seed": "seed of lambda ~ N(0, 1) and of the random vectors",
        "directions": "finite-difference directions (the first is your hypergradient)"}


def parse_args(argv: list[str] | None = None) -> CheckArgs:
    parser = dataclass_parser(CheckArgs, HELP, __doc__.split("\n\n")[0])
    args = CheckArgs(**vars(parser.parse_args(argv)))
    if args.seed < 0 or args.directions < 1:
        parser.error(f"--seed must be >= 0 and --directions >= 1; received {args.seed} and "
                     f"{args.directions}.")
    return args


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


FAILED: list[str] = []  # the names of the checks that printed CHECK in this run


def _row(name: str, value: str, ok: bool, goal: str) -> None:
    print(f"{'ok   ' if ok else 'CHECK'}  {name:<46} {value:>22}   {goal}")
    if not ok:
        FAILED.append(name)


def _attempt(name: str, fn, goal: str):
    try:
        return fn()
    except NotImplementedError as exc:
        _row(name, "not implemented", False, str(exc))
    except Exception as exc:  # noqa: BLE001 - report and go on with the other checks
        _row(name, type(exc).__name__, False, str(exc)[:90])
    return None


def main(argv: list[str] | None = None) -> None:
    """Run every check and print one line each; raise ``SystemExit`` (status 1) naming the
    failed checks when any fails."""
    args = parse_args(argv)
    FAILED.clear()
    set_thread_budget(1)
    started = time.perf_counter()
    d = load_digits_split()
    keep = np.isin(d.y_val, (6, 7))
    rng = np.random.default_rng(args.seed)
    problem = SoftmaxRegressionProblem(d.X_train, d.y_train, d.X_val[keep], d.y_val[keep],
                                       rng.normal(size=len(d.y_train)))
    iterations = problem.solve()
    H = problem.dense_hessian().numpy()
    eigenvalues = np.linalg.eigvalsh(H)
    lam_max = float(eigenvalues[-1])
    print(f"exact problem: {len(d.y_train)} digits, {len(H)} weights, Newton converged in "
          f"{iterations} iterations; H eigenvalues {eigenvalues[0]:.3g} .. {lam_max:.3g}\n")
    v = rng.normal(size=len(H))

    hv = _attempt("hessian_vector_product vs dense H", lambda: problem.product(
        torch.tensor(v)).numpy(), "")
    if hv is not None:
        e = _rel(hv, H @ v)
        _row("hessian_vector_product vs dense H", f"rel. error {e:.1e}", e <= 1e-8, "<= 1e-8")
    gv = _attempt("gauss_newton_vector_product", lambda: problem.product(
        torch.tensor(v), gauss_newton=True).numpy(), "")
    if gv is not None:
        e = _rel(gv + problem.l2 * v, H @ v)
        _row("Gauss-Newton + l2 v vs dense H (linear model)", f"rel. error {e:.1e}", e <= 1e-8,
             "<= 1e-8 (G misses the L2 term)")
    exact_inverse = np.linalg.solve(H, v)
    for K in (10, 30, 100):
        p = _attempt(f"neumann_inverse_hvp, K = {K}", lambda K=K: problem.neumann(
            torch.tensor(v), K, 1 / lam_max).numpy(), "")
        if p is not None:
            e = _rel(p, exact_inverse)
            _row(f"neumann_inverse_hvp vs H^-1 v, K = {K}", f"rel. error {e:.1e}", True,
                 "falls with K (alpha = 1 / lambda_max)")
    try:
        problem.neumann(torch.tensor(v), 100, 2.5 / lam_max)
        _row("neumann_inverse_hvp, alpha = 2.5 / lambda_max", "no error", False,
             "must raise NeumannDivergenceError")
    except Exception as exc:  # noqa: BLE001 - the error's type is what is checked
        name = type(exc).__name__
        _row("neumann_inverse_hvp, alpha = 2.5 / lambda_max", name,
             name == "NeumannDivergenceError", "NeumannDivergenceError")

    g = _attempt("hypergradient (exact H^-1)", lambda: problem.hypergradient().numpy(), "")
    if g is not None and np.linalg.norm(g) > 0:
        directions = [g / np.linalg.norm(g)] + [u / np.linalg.norm(u) for u in rng.normal(
            size=(args.directions - 1, len(g)))]
        fd = np.array([problem.finite_difference(u) for u in directions])
        yours = np.array([g @ u for u in directions])
        e = float(np.linalg.norm(fd - yours) / np.linalg.norm(fd))
        _row("hypergradient vs finite differences", f"rel. error {e:.1e}", e <= 1e-4,
             "<= 1e-4" + ("; along yours FD < 0: sign flipped?" if fd[0] < 0 else ""))
        for K in (10, 100):
            gk = _attempt(f"hypergradient, Neumann K = {K}", lambda K=K: problem.hypergradient(
                K=K, alpha=1 / lam_max).numpy(), "")
            if gk is not None:
                cos = float(gk @ g / (np.linalg.norm(gk) * np.linalg.norm(g) + 1e-300))
                _row(f"hypergradient, Neumann K = {K}: cosine", f"{cos:.5f}",
                     cos >= 0.99 or K < 100, ">= 0.99 at K = 100")
    elif g is not None:
        _row("hypergradient (exact H^-1)", "zero", False, "L_V depends on lambda through w*")
    print(f"\n{time.perf_counter() - started:.0f} s")
    if FAILED:
        raise SystemExit(f"{len(FAILED)} check(s) failed (the CHECK lines above): "
                         f"{'; '.join(FAILED)}")


if __name__ == "__main__":
    main()
