"""Gradescope results.json export, checked against the strict schema of the spec."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from grading.report.gradescope import (
    TEST_OUTPUT_CAP,
    dumps_results,
    format_test_output,
    to_gradescope,
    write_results_json,
)
from grading.report.result import SubmissionResult, TestResult

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "gradescope_results.schema.json"
STARTED = "2025-03-01T09:30:00+00:00"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def submission(tests: list[TestResult], **overrides) -> SubmissionResult:
    kwargs = dict(submission_id="alice", lab="lab_gmm", tests=tests, isolation="bwrap",
                  grader_version="0.1.0", started_at=STARTED, execution_time=42.5)
    kwargs.update(overrides)
    return SubmissionResult(**kwargs)


def passing() -> SubmissionResult:
    return submission([TestResult("test_a", 2, 2, "passed"),
                       TestResult("test_b", 3, 3, "passed", number="1.2")])


def failing_partial() -> SubmissionResult:
    return submission([
        TestResult("test_a", 2, 2, "passed"),
        TestResult("accuracy", 4, 2.5, "failed", kind="performance",
                   reason="accuracy 0.75 is below the target 0.90",
                   expected=">= 0.90", received="0.75"),
        TestResult("test_timeout", 1, 0, "failed", reason="timed out after 10 s",
                   output="epoch 1\nepoch 2\n"),
    ])


def error_status() -> SubmissionResult:
    return SubmissionResult.from_error(
        submission_id="bob", lab="lab_gmm", error="no submission.py in the upload",
        isolation="rlimits-only", grader_version="0.1.0", started_at=STARTED)


def hidden_and_manual() -> SubmissionResult:
    return submission([
        TestResult("test_public", 1, 1, "passed"),
        TestResult("test_hidden", 2, 0, "failed", visibility="hidden", expected="SECRET-42"),
        TestResult("test_later", 2, 2, "passed", visibility="after_due_date", tags=["gmm"]),
        TestResult("test_published", 1, 0, "failed", visibility="after_published"),
        TestResult("q1_explain_pca", 3, 0, "pending", kind="manual"),
        TestResult("q2_compare_ddpm", 1.5, 0, "pending", kind="manual"),
    ])


CASES = {"passing": passing, "failing_partial": failing_partial, "error": error_status,
         "hidden_and_manual": hidden_and_manual}


# ------------------------------------------------------------------ schema conformance


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_export_validates_against_the_schema(case, validator, tmp_path):
    result = CASES[case]()
    validator.validate(to_gradescope(result))
    path = write_results_json(result, tmp_path / "results" / "results.json")
    validator.validate(json.loads(path.read_text()))


def test_schema_rejects_wrong_status(validator):
    data = to_gradescope(passing())
    data["tests"][0]["status"] = "ok"
    with pytest.raises(jsonschema.ValidationError, match="'ok' is not one of"):
        validator.validate(data)


def test_schema_rejects_missing_max_score(validator):
    data = to_gradescope(passing())
    del data["tests"][0]["max_score"]
    with pytest.raises(jsonschema.ValidationError, match="'max_score' is a required property"):
        validator.validate(data)


def test_schema_rejects_unknown_top_level_key(validator):
    data = to_gradescope(passing())
    data["grade"] = "A"
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        validator.validate(data)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(visibility="students"),
        lambda d: d.update(output_format="markdown"),
        lambda d: d.update(score="10"),
        lambda d: d.update(execution_time=None),
        lambda d: d["tests"][0].update(weight=1),
        lambda d: d["tests"][0].update(number=1.2),
        lambda d: d["tests"][0].update(tags="a"),
        lambda d: d.update(leaderboard=[{"name": "Accuracy"}]),
        lambda d: d.update(leaderboard=[{"name": "Time", "value": 1, "order": "up"}]),
        lambda d: (d.pop("score"), d.pop("tests")),
    ],
)
def test_schema_rejects_other_violations(mutate, validator):
    data = to_gradescope(passing())
    mutate(data)
    assert not validator.is_valid(data)


def test_schema_accepts_the_spec_example_subset(validator):
    example = {
        "score": 44.0, "execution_time": 136, "output": "Text relevant to the entire submission",
        "output_format": "simple_format", "test_output_format": "text",
        "test_name_format": "text", "visibility": "after_due_date",
        "stdout_visibility": "visible", "extra_data": {},
        "tests": [{"score": 2.0, "max_score": 2.0, "status": "passed", "name": "Your name here",
                   "name_format": "text", "number": "1.1", "output": "Giant multiline string",
                   "output_format": "text", "tags": ["tag1", "tag2"], "visibility": "visible",
                   "extra_data": {}}],
        "leaderboard": [{"name": "Accuracy", "value": 0.926},
                        {"name": "Time", "value": 15.1, "order": "asc"},
                        {"name": "Stars", "value": "*****"}],
    }
    validator.validate(example)


# ------------------------------------------------------------------ content


def test_passing_export():
    data = to_gradescope(passing())
    assert data["score"] == 5.0
    assert [t["status"] for t in data["tests"]] == ["passed", "passed"]
    assert data["tests"][1]["number"] == "1.2" and "number" not in data["tests"][0]
    assert data["execution_time"] == 42.5
    assert "Isolation: bwrap" in data["output"] and "0.1.0" in data["output"]
    assert data["extra_data"]["isolation"] == "bwrap"
    assert data["extra_data"]["grader_version"] == "0.1.0"


def test_partial_credit_is_failed_with_partial_score():
    data = to_gradescope(failing_partial())
    accuracy = data["tests"][1]
    assert accuracy["status"] == "failed" and accuracy["score"] == 2.5
    assert accuracy["output"].startswith("Reason: accuracy 0.75 is below the target 0.90\n")
    assert "Expected: >= 0.90\nReceived: 0.75" in accuracy["output"]
    assert data["tests"][2]["output"] == "Reason: timed out after 10 s\n\nOutput:\nepoch 1\nepoch 2"
    assert data["score"] == 4.5 == sum(t["score"] for t in data["tests"])


def test_zero_point_failed_check_stays_failed():
    result = submission([TestResult("imports", 0, 0, "failed", reason="ImportError")])
    assert to_gradescope(result)["tests"][0]["status"] == "failed"


def test_error_export_explains_and_scores_zero():
    data = to_gradescope(error_status())
    assert data["score"] == 0 and data["tests"] == []
    assert "could not grade this submission: no submission.py in the upload" in data["output"]
    assert data["extra_data"]["status"] == "error"
    assert data["extra_data"]["isolation"] == "rlimits-only"


def test_pending_manual_items_are_not_tests():
    data = to_gradescope(hidden_and_manual())
    names = [t["name"] for t in data["tests"]]
    assert "q1_explain_pca" not in names and "q2_compare_ddpm" not in names
    assert data["score"] == 3.0
    assert "4.5 points of written answers are graded by hand" in data["output"]
    assert data["extra_data"]["pending_points"] == 4.5
    assert data["extra_data"]["pending_manual"] == [
        {"name": "q1_explain_pca", "max_score": 3.0},
        {"name": "q2_compare_ddpm", "max_score": 1.5}]
    visibilities = {t["name"]: t["visibility"] for t in data["tests"]}
    assert visibilities == {"test_public": "visible", "test_hidden": "hidden",
                            "test_later": "after_due_date", "test_published": "after_published"}


def test_long_output_is_truncated_with_a_note():
    long_output = "START\n" + "spam line\n" * 5000 + "Traceback: the end"
    test = TestResult("test_noisy", 1, 0, "failed", reason="your code raised KeyError",
                      output=long_output)
    text = to_gradescope(submission([test]))["tests"][0]["output"]
    assert len(text) <= TEST_OUTPUT_CAP
    assert text.startswith("Reason: your code raised KeyError")
    assert "[... truncated " in text and text.endswith("Traceback: the end")


def test_huge_fields_still_fit_the_cap():
    test = TestResult("t", 1, 0, "failed", reason="r" * 50_000, expected="e" * 50_000,
                      received="x" * 50_000, hint="h" * 50_000, output="o" * 50_000)
    for cap in (TEST_OUTPUT_CAP, 1000, 100):
        assert len(format_test_output(test, cap)) <= cap


def test_student_text_is_cleaned():
    test = TestResult("t", 1, 0, "failed", output="bad\x00byte \x1b[1mbold\x1b[0m \udcff!")
    text = to_gradescope(submission([test]))["tests"][0]["output"]
    assert text == "badbyte bold ?!"
    json.dumps(text).encode("ascii")


def test_output_is_byte_identical_for_identical_inputs(tmp_path):
    for name, make in CASES.items():
        first = write_results_json(make(), tmp_path / f"{name}-1.json").read_bytes()
        second = write_results_json(make(), tmp_path / f"{name}-2.json").read_bytes()
        assert first == second
        assert first == dumps_results(make()).encode("ascii")
        assert first.endswith(b"\n")


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("stale")
    write_results_json(passing(), path)
    assert json.loads(path.read_text())["score"] == 5.0
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_key_order_is_fixed():
    data = to_gradescope(failing_partial())
    assert list(data) == ["score", "execution_time", "output", "output_format",
                          "test_output_format", "test_name_format", "visibility",
                          "stdout_visibility", "extra_data", "tests"]
    assert list(data["tests"][0]) == ["name", "score", "max_score", "status", "visibility",
                                      "output", "tags", "extra_data"]
