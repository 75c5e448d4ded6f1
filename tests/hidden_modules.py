"""The hidden tests' trusted helper modules, imported in the project's tests as the hidden tests
import them (by name, from ``lab/instructor/hidden_tests``)."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path


def hidden_module(lab_dir: Path, name: str) -> types.ModuleType:
    """``lab_dir/instructor/hidden_tests/<name>.py`` as the module ``name``."""
    folder = str(Path(lab_dir) / "instructor" / "hidden_tests")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)
