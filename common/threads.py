"""CPU-thread budgets.

On a 2-core machine, numpy/sklearn/torch with their default thread pools under parallel load ran
about 40x slower than single-threaded. Every parallel runner gives each worker its share of the
cores through :func:`thread_env` (for a child process) or :func:`set_thread_budget` (in-process).
"""

from __future__ import annotations

import os

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def available_cores() -> int:
    """The number of cores this process may run on (CPU affinity aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cores_per_worker(workers: int) -> int:
    """Each of ``workers`` parallel workers' share of the cores, at least 1."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1; received {workers}.")
    return max(1, available_cores() // workers)


def thread_env(n: int) -> dict[str, str]:
    """Environment variables that cap BLAS/OpenMP pools at ``n`` threads in a child process."""
    if n < 1:
        raise ValueError(f"a thread budget must be >= 1; received {n}.")
    return {var: str(n) for var in THREAD_ENV_VARS}


def set_thread_budget(n: int) -> None:
    """Cap this process at ``n`` compute threads.

    Sets the environment (read by BLAS libraries loaded later), then resizes the pools of
    libraries already loaded (torch, and numpy's BLAS through threadpoolctl when available).
    """
    os.environ.update(thread_env(n))
    import sys

    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return
    threadpool_limits(n)
