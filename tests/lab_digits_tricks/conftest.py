"""Fixtures of the lab's project tests: the reference solution as a module and as a lab copy."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

from grading.examples import reference_submission

LAB = Path(__file__).resolve().parents[2] / "lab_digits_tricks"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """In-process training on one thread (2 threads on a busy 2-core machine crawl)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def load_module(name: str, path: Path):
    """Import ``path`` under the module name ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def lab_copy(tmp_path_factory) -> Path:
    """The lab's public files with the reference solution as ``submission.py``."""
    folder = tmp_path_factory.mktemp("lab_digits_tricks")
    for path in LAB.glob("*.py"):
        shutil.copy(path, folder / path.name)
    shutil.copytree(LAB / "tests", folder / "tests")
    (folder / "submission.py").write_text(reference_submission(LAB))
    for path in (folder, *folder.rglob("*")):  # pytest makes 0700 folders; the sandbox's uid
        path.chmod(0o755 if path.is_dir() else 0o644)  # must read the lab it mounts
    return folder


@pytest.fixture(scope="session")
def reference(lab_copy):
    """The reference solution, imported as a module (not as ``submission``)."""
    return load_module("lab_digits_tricks_reference", lab_copy / "submission.py")


@pytest.fixture(scope="session")
def fixed_module(lab_copy):
    """``fixed_module("compare")``: one of the lab's fixed modules, imported from the copy."""

    def load(name: str):
        return load_module(f"lab_digits_tricks_{name}", lab_copy / f"{name}.py")

    return load


@pytest.fixture(scope="session")
def hidden_helpers():
    """The hidden tests' conftest (the source scanner for library shortcuts)."""
    return load_module("lab_digits_tricks_hidden_conftest",
                       LAB / "instructor" / "hidden_tests" / "conftest.py")
