"""Each committed ``submission.py`` is the stub generated from ``instructor/solution.py``."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from grading.labs import REPO_ROOT, find_labs
from grading.release import SYNC_COMMAND
from grading.solution_markers import stub_source

FIXTURE = REPO_ROOT / "tests" / "grading" / "fixture_lab"
CASES = [pytest.param(lab.path, lab.name, f"{SYNC_COMMAND} --lab {lab.name}", id=lab.name)
         for lab in find_labs() if (lab.path / "instructor" / "solution.py").is_file()]
CASES.append(pytest.param(FIXTURE, "fixture_lab",
                          f"{SYNC_COMMAND} --repo tests/grading --lab fixture_lab",
                          id="fixture_lab"))


@pytest.mark.parametrize(("lab_dir", "lab", "command"), CASES)
def test_committed_stub_matches_the_solution(lab_dir: Path, lab: str, command: str):
    solution = lab_dir / "instructor" / "solution.py"
    expected = stub_source(solution.read_text(), lab, f"{lab}/instructor/solution.py")
    committed_path = lab_dir / "submission.py"
    committed = committed_path.read_text() if committed_path.is_file() else ""
    if committed != expected:
        rel = committed_path.relative_to(REPO_ROOT).as_posix()
        diff = "".join(difflib.unified_diff(
            committed.splitlines(keepends=True), expected.splitlines(keepends=True),
            fromfile=f"{rel} (committed)", tofile=f"{rel} (generated from the solution)"))
        state = "is out of sync with" if committed_path.is_file() else "is missing; it comes from"
        pytest.fail(f"{rel} {state} {lab}/instructor/solution.py.\n"
                    f"Regenerate it with `{command}` (from the repository root).\n\n{diff}",
                    pytrace=False)
