"""A Python that an unprivileged uid may run, for the process-level workers of a root grader
whose own interpreter lives where others cannot read it (a Python under /root).

A virtual environment of a system Python of the same version, in a folder others may read,
seeing this interpreter's packages and the repository through a ``.pth`` file: what a TA would
build and name in ``LABS_WORKER_PYTHON``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from grading.sandbox import launcher
from grading.sandbox.launcher import sandbox_uid


def python_others_can_run() -> str | None:
    """A system Python of this version that an unprivileged uid may run, or None."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/bin", "/usr/local/bin"):
        path = Path(folder) / name
        if path.exists() and launcher._unreadable_by_others((str(path),)) is None:
            return str(path)
    return None


def build_readable_python(folder: Path) -> str | None:
    """Make the environment in ``folder`` (made readable by others); its python, or None when
    no system Python fits or this environment's packages are not readable by others."""
    base = python_others_can_run()
    if base is None:
        return None
    folder.chmod(0o755)
    subprocess.run([base, "-m", "venv", "--without-pip", str(folder / "venv")], check=True,
                   capture_output=True, timeout=120)
    python = folder / "venv" / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"], check=True,
                          capture_output=True, text=True).stdout.strip()
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                           str(launcher.REPO_ROOT)])
    (Path(site) / "grader_tests.pth").write_text("\n".join(paths) + "\n")
    uid = sandbox_uid()
    check = subprocess.run([python, "-c", "import numpy, grading.sandbox.worker"], user=uid,
                           group=uid, extra_groups=[], cwd="/", capture_output=True)
    return str(python) if check.returncode == 0 else None


def temporary_readable_python() -> tuple[str | None, Path]:
    """(python or None, the folder to remove afterwards)."""
    folder = Path(tempfile.mkdtemp(prefix="readable-python-"))
    try:
        return build_readable_python(folder), folder
    except (OSError, subprocess.SubprocessError):
        shutil.rmtree(folder, ignore_errors=True)
        return None, folder
