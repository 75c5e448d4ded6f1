"""Makes the trusted helper modules (``sae_reference``, ``sae_run``) importable by
the hidden tests, and keeps the grader's own torch work on one thread."""

import sys
from pathlib import Path

import pytest
import torch

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(scope="session", autouse=True)
def one_grader_thread():
    """The grader's own torch work on one thread: on a small machine a second thread spins
    against the sandboxed worker (which computes on one) instead of helping."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
