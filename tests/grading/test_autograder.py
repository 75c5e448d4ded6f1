"""The Gradescope autograder zip: what it holds, and run_autograder run as Gradescope runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grading.autograder import build_autograder
from grading.examples import reference_submission
from grading.labs import REPO_ROOT

HERE = Path(__file__).parent
FIXTURE_LAB = HERE / "fixture_lab"
SCHEMA = json.loads((HERE / "gradescope_results.schema.json").read_text())


def test_the_zip_holds_the_grader_and_the_lab_and_nothing_else(tmp_path):
    names = build_autograder(REPO_ROOT / "lab_gmm", tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.namelist() == names
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert modes["setup.sh"] == modes["run_autograder"] == 0o100755
    assert modes["grading/cli.py"] == 0o100644
    for needed in ("requirements.txt", "grading/cli.py", "grading/sandbox/worker.py",
                   "common/data.py", "lab_gmm/train.py", "lab_gmm/instructor/solution.py",
                   "lab_gmm/instructor/rubric.json", "lab_gmm/instructor/hidden_tests/conftest.py"):
        assert needed in names, needed
    tops = {name.split("/")[0] for name in names}
    assert tops == {"setup.sh", "run_autograder", "requirements.txt", "grading", "common",
                    "lab_gmm"}
    assert not [n for n in names if "__pycache__" in n or "/results/" in n or n.endswith(".pyc")]
    build_autograder(REPO_ROOT / "lab_gmm", tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_the_scripts_are_valid_bash(tmp_path):
    build_autograder(FIXTURE_LAB, tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        for script in ("setup.sh", "run_autograder"):
            (tmp_path / script).write_bytes(archive.read(script))
            done = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True,
                                  text=True)
            assert done.returncode == 0, done.stderr
        assert "--lab \"$ROOT/source/fixture_lab\"" in archive.read("run_autograder").decode()


def test_a_folder_that_is_not_a_graded_lab_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a lab folder .* with instructor/hidden_tests"):
        build_autograder(REPO_ROOT / "common", tmp_path / "a.zip")
    done = subprocess.run([sys.executable, "-m", "grading", "autograder", "--lab", "lab_nope",
                           "--out", str(tmp_path / "a.zip")], cwd=REPO_ROOT, capture_output=True,
                          text=True)
    assert done.returncode != 0 and "unknown lab 'lab_nope'" in done.stderr
    assert not (tmp_path / "a.zip").exists()


@pytest.fixture(scope="module")
def autograder_root(tmp_path_factory) -> Path:
    """/autograder as Gradescope lays it out after setup.sh, for the fixture lab: the zip in
    source/, and this interpreter's environment as venv/."""
    root = tmp_path_factory.mktemp("autograder")
    zip_path = root / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "grading", "autograder", "--lab",
                           str(FIXTURE_LAB), "--out", str(zip_path)], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "Configure Autograder" in done.stdout, done.stderr
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    (root / "venv").symlink_to(sys.prefix)
    return root


def run_autograder(root: Path, files: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Gradescope's steps for one submission: fresh submission/ and results/, then the script."""
    for folder in ("submission", "results"):
        subprocess.run(["rm", "-rf", str(root / folder)], check=True)
        (root / folder).mkdir()
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")],
                          env={**os.environ, "AUTOGRADER_ROOT": str(root)}, capture_output=True,
                          text=True, timeout=300, cwd="/")
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return done, results


def test_run_autograder_grades_the_submission_into_results_json(autograder_root):
    done, results = run_autograder(autograder_root,
                                   {"submission.py": reference_submission(FIXTURE_LAB)})
    assert done.returncode == 0, done.stderr
    assert results["score"] == 10.0 and results["extra_data"]["lab"] == "fixture_lab"


def test_run_autograder_grades_a_folder_uploaded_as_it_is(autograder_root):
    done, results = run_autograder(
        autograder_root, {"my_lab/submission.py": reference_submission(FIXTURE_LAB)})
    assert done.returncode == 0, done.stderr
    assert results["score"] == 10.0


def test_run_autograder_explains_a_missing_submission_py(autograder_root):
    done, results = run_autograder(autograder_root, {"Submission (1).py": "x = 1\n"})
    assert done.returncode == 0, done.stderr
    assert results["score"] == 0
    assert "no submission.py" in results["output"] and "Submission (1).py" in results["output"]
