"""Fixtures shared by the grader's tests."""

import shutil
import tempfile
from pathlib import Path

import pytest

FIXTURE_LAB = Path(__file__).parent / "fixture_lab"


@pytest.fixture(scope="session")
def public_lab():
    """The fixture lab as a handout has it (no instructor/), in a folder others may read: what
    plain processes may run, as a root grader's unprivileged uid, without hiding anything."""
    folder = Path(tempfile.mkdtemp())
    folder.chmod(0o755)
    shutil.copytree(FIXTURE_LAB, folder / "fixture_lab",
                    ignore=shutil.ignore_patterns("instructor", "__pycache__"))
    for path in (folder / "fixture_lab").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield folder / "fixture_lab"
    shutil.rmtree(folder, ignore_errors=True)
