"""Grading the submissions of a lab's ``original_api/`` folder (written against the original
assignment's API) as a TA grades one student, and checking them against their pins.

Each folder holds the submissions and ``expected.json``: name -> {"score": points or "full",
"reason": a regex its feedback must contain, "why": what the pin stands for}.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from common.threads import thread_env
from grading.labs import REPO_ROOT


def load_pins(folder: Path) -> dict[str, dict]:
    """``expected.json`` of ``folder``, each pin checked to hold a score, a reason and a why."""
    pins = json.loads((folder / "expected.json").read_text())
    for name, pin in pins.items():
        assert isinstance(pin.get("score"), int | float) or pin.get("score") == "full", name
        assert pin.get("reason") and pin.get("why"), name
    return pins


def grade_one(lab_dir: Path, submission: Path, out: Path, env: dict[str, str] | None = None
              ) -> tuple[dict, str]:
    """(results.json, feedback.md) of ``submission`` (a folder or a .py file) graded by
    ``python -m grading grade-one`` with one BLAS thread and ``env`` set."""
    for path in (submission, *submission.parents[:2]):  # the sandbox's uid reads it
        if path.is_dir() and path.stat().st_mode & 0o005 != 0o005:
            path.chmod(0o755)
    env = {**os.environ, **thread_env(1), "LABS_NO_PROGRESS": "1", **(env or {})}
    done = subprocess.run([sys.executable, "-m", "grading", "grade-one", "--lab", str(lab_dir),
                           "--submission", str(submission), "--out", str(out)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), (out / "feedback.md").read_text()


def check_pinned(name: str, results: dict, feedback: str, pin: dict, full: float) -> None:
    """AssertionError unless ``results`` scores ``pin["score"]`` (``full`` for "full") and the
    feedback contains ``pin["reason"]``."""
    expected = full if pin["score"] == "full" else float(pin["score"])
    assert results["score"] == expected, (f"{name}: {results['score']} instead of {expected} "
                                          f"({pin['why']})\n{feedback}")
    assert re.search(pin["reason"], feedback), f"{name}: no {pin['reason']!r} in\n{feedback}"
