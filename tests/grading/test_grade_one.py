"""Grading one submission of the fixture lab end to end, in-process (the hidden tests run under
``pytest.main``; the submission runs in sandboxed workers)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grading.examples import reference_submission, write_submission
from grading.grade_one import (
    check_hidden_tests,
    content_hash,
    forget_modules_under,
    grade_submission,
    lab_settings,
    manual_rows,
    run_hidden_tests,
)
from grading.pytest_plugin import NOT_IMPORTED
from grading.sandbox.launcher import bwrap_works, choose_isolation

HERE = Path(__file__).parent
LAB = HERE / "fixture_lab"
SCHEMA = json.loads((HERE / "gradescope_results.schema.json").read_text())
LEVEL = "bwrap" if bwrap_works() else "process"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    submission = write_submission(reference_submission(LAB), tmp / "alice")
    result = grade_submission(LAB, submission, tmp / "out")
    return result, tmp / "out"


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("blank")
    result = grade_submission(LAB, LAB / "submission.py", tmp / "out", submission_id="bob")
    return result, tmp / "out"


def test_the_reference_gets_full_marks(reference):
    result, out = reference
    assert (result.status, result.score, result.max_score) == ("graded", 10, 10)
    assert result.submission_id == "alice" and result.lab == "fixture_lab"
    assert result.isolation == LEVEL
    assert [t.status for t in result.tests] == ["passed"] * 5 + ["pending"]
    assert result.pending_points == 2
    assert {p.name for p in out.iterdir()} == {"results.json", "feedback.md", "result.json"}


def test_the_blank_stub_gets_nothing_and_is_told_why(blank):
    result, out = blank
    assert (result.status, result.score, result.max_score) == ("graded", 0, 10)
    assert result.submission_id == "bob"
    auto = [t for t in result.tests if t.kind != "manual"]
    assert len(auto) == 5 and all(t.status == "failed" for t in auto)
    assert all(t.reason.startswith("not implemented yet (the stub still raises "
                                   "NotImplementedError: fixture_lab: ") for t in auto)
    assert "NotImplementedError" in (out / "feedback.md").read_text()


def test_a_submission_that_does_not_import_is_told_once_at_the_top(tmp_path):
    """One mistake, one message: the SyntaxError with its line once, before the tests; every
    test says it did not run, without repeating it."""
    broken = reference_submission(LAB) + "\n\ndef oops(:\n    pass\n"
    submission = write_submission(broken, tmp_path / "carol")
    result = grade_submission(LAB, submission, tmp_path / "out")
    auto = [t for t in result.tests if t.kind != "manual"]
    assert result.score == 0 and all(t.reason == NOT_IMPORTED for t in auto)
    line = broken.splitlines().index("def oops(:") + 1
    assert "SyntaxError" in result.output and f"submission.py, line {line}" in result.output
    assert "/scratch" not in result.output and "<frozen" not in result.output
    feedback = (tmp_path / "out" / "feedback.md").read_text()
    assert feedback.count("def oops(:") == 1
    assert feedback.index("## Read this first") < feedback.index("## Tests")
    gradescope = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "SyntaxError" in gradescope["output"]
    assert not any("SyntaxError" in test["output"] for test in gradescope["tests"])


def test_results_json_follows_the_gradescope_schema(reference, blank):
    for _, out in (reference, blank):
        results = json.loads((out / "results.json").read_text())
        jsonschema.validate(results, SCHEMA)
        assert results["extra_data"]["isolation"] == LEVEL


def test_a_missing_submission_py_is_an_error_with_a_clear_message(tmp_path):
    folder = tmp_path / "carol"
    folder.mkdir()
    (folder / "submision.py").write_text("x = 1\n")  # misspelt
    result = grade_submission(LAB, folder, tmp_path / "out")
    assert result.status == "error" and result.score == 0
    assert "no submission.py in" in result.error and "found: submision.py" in result.error
    assert [t.status for t in result.tests] == ["pending"]  # the written answers remain
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 0 and "submission.py" in (tmp_path / "out" /
                                                         "feedback.md").read_text()


def test_content_hash_is_stable_and_independent_of_file_order():
    files = {"submission.py": b"x = 1\n", "helpers/util.py": b"y = 2\n"}
    reordered = dict(reversed(list(files.items())))
    assert content_hash(files) == content_hash(reordered)
    assert len(content_hash(files)) == 64
    assert content_hash(files) != content_hash(files | {"submission.py": b"x = 2\n"})
    # name and content cannot be traded against each other
    assert content_hash({"a": b"bc"}) != content_hash({"ab": b"c"})


def test_grading_twice_gives_the_same_hash(reference, tmp_path):
    result, _ = reference
    copy = write_submission(reference_submission(LAB), tmp_path / "again")
    assert content_hash({"submission.py": (copy / "submission.py").read_bytes()}) == \
        result.content_hash


def test_manual_rows_come_from_the_rubric():
    (row,) = manual_rows(LAB)
    assert row.status == "pending" and row.max_score == 2 and row.kind == "manual"
    assert row.name == "q1_softmax_shift (written, graded by hand)"
    assert manual_rows(HERE) == []


# -- lab settings --------------------------------------------------------------------------------
def make_lab(tmp_path: Path, settings_text: str | None) -> Path:
    lab = tmp_path / "lab"
    (lab / "instructor").mkdir(parents=True)
    if settings_text is not None:
        (lab / "instructor" / "grader.json").write_text(settings_text)
    return lab


def test_lab_settings_defaults_and_good_values(tmp_path):
    assert lab_settings(make_lab(tmp_path / "a", None)) == {}
    good = '{"preload": ["numpy", "torch"], "threads": 2}'
    assert lab_settings(make_lab(tmp_path / "b", good)) == {"preload": ["numpy", "torch"],
                                                            "threads": 2}


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "expected an object with 'preload' and/or 'threads'; received list"),
    ("5", "received int 5"),
    ("null", "received NoneType"),
    ('{"preload": ["numpy"], "thread": 2}', r"unknown keys \['thread'\]"),
    ('{"preload": "numpy,torch"}', "'preload' must be a list of module names"),
    ('{"preload": ["numpy", 3]}', "'preload' must be a list of module names"),
    ('{"preload": ["numpy,torch"]}', "'preload' must be a list of module names"),
    ('{"threads": 0}', "'threads' must be an integer >= 1; received 0"),
    ('{"threads": "2"}', "'threads' must be an integer >= 1; received '2'"),
    ('{"threads": true}', "'threads' must be an integer >= 1; received True"),
    ('{"threads": 1.5}', "'threads' must be an integer >= 1"),
])
def test_lab_settings_rejects_a_bad_grader_json(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        lab_settings(make_lab(tmp_path, text))


# -- several labs in one process -----------------------------------------------------------------
def test_two_labs_with_same_named_test_files_are_graded_with_their_own_tests(tmp_path):
    """pytest's importlib mode names test modules by path: the second lab must not get the
    first lab's ``instructor/hidden_tests/test_fixture.py`` from ``sys.modules``."""
    labs = {}
    for name in ("lab_one", "lab_two"):
        labs[name] = shutil.copytree(LAB, tmp_path / name / "lab")  # same folder names
    (labs["lab_two"] / "instructor" / "hidden_tests" / "test_fixture.py").write_text(
        "import pytest\n\n\n@pytest.mark.points(1)\ndef test_other(submission):\n"
        '    """only in lab two"""\n')
    submission = write_submission(reference_submission(LAB), tmp_path / "sub")
    names, levels = {}, {}
    for name, lab in labs.items():
        tests, levels[name], _, _ = run_hidden_tests(lab, submission, "auto", "numpy", 1)
        names[name] = [t.name for t in tests]
    assert levels["lab_one"] == choose_isolation("auto")  # lab two's test starts no worker
    assert len(names["lab_one"]) == 5 and names["lab_two"] == ["only in lab two"]
    assert not any(str(tmp_path) in str(getattr(m, "__file__", "") or "")
                   for m in list(sys.modules.values()))


def test_forget_modules_under(tmp_path, monkeypatch):
    (tmp_path / "pkg_for_forget_test.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import pkg_for_forget_test  # noqa: F401

    forget_modules_under(tmp_path / "elsewhere")
    assert "pkg_for_forget_test" in sys.modules
    forget_modules_under(tmp_path)
    assert "pkg_for_forget_test" not in sys.modules


def test_a_lab_whose_hidden_tests_cannot_be_collected_is_refused_before_any_grading(tmp_path):
    assert check_hidden_tests(LAB) is None
    lab = shutil.copytree(LAB, tmp_path / "broken_lab")
    hidden = lab / "instructor" / "hidden_tests" / "test_fixture.py"
    hidden.write_text(hidden.read_text().replace("@pytest.mark.points(3)",
                                                 '@pytest.mark.points("3")', 1))
    problem = check_hidden_tests(lab)
    assert problem and "@pytest.mark.points takes a number" in problem, problem
    write_submission(reference_submission(LAB), tmp_path / "class" / "s1")
    proc = subprocess.run([sys.executable, "-m", "grading", "grade", "--lab", str(lab),
                           "--submissions", str(tmp_path / "class"), "--out",
                           str(tmp_path / "out"), "--no_progress"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "invalid grading markers" in proc.stderr, proc.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()
