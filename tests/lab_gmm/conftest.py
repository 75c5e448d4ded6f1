"""Fixtures of the lab_gmm tests: the reference solution as the ``submission`` module, and the
lab's fixed modules imported against it."""

from __future__ import annotations

import importlib
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from grading.examples import reference_submission

LAB_DIR = Path(__file__).resolve().parents[2] / "lab_gmm"
FIXED_MODULES = ("submission", "train", "model", "load_resources", "visualization", "grade")


def load_reference() -> types.ModuleType:
    """The instructor solution (markers removed) as a fresh module named ``submission``."""
    module = types.ModuleType("submission")
    module.__file__ = str(LAB_DIR / "submission.py")
    exec(compile(reference_submission(LAB_DIR), "solution.py", "exec"), module.__dict__)
    return module


@pytest.fixture(autouse=True, scope="module")
def _one_compute_thread():
    """BLAS and OpenMP capped at one thread: on a loaded 2-core machine their default pools
    make these tests several times slower."""
    torch = sys.modules.get("torch")  # only where a test module imported it
    threads = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    if torch:
        torch.set_num_threads(threads)


@pytest.fixture
def ref() -> types.ModuleType:
    return load_reference()


@contextmanager
def reference_lab():
    """Yields ``import_module``: ``import_module("train")`` imports a fixed module of the lab
    whose ``import submission`` gets the reference; sys.modules and sys.path are restored."""
    saved = {name: sys.modules.pop(name) for name in FIXED_MODULES if name in sys.modules}
    sys.path.insert(0, str(LAB_DIR))
    sys.modules["submission"] = load_reference()
    try:
        yield importlib.import_module
    finally:
        for name in FIXED_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
        sys.path.remove(str(LAB_DIR))


@pytest.fixture
def lab_module():
    """``lab_module("train")``: see :func:`reference_lab`."""
    with reference_lab() as import_module:
        yield import_module
