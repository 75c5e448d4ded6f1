"""The internal result object: validation, totals, JSON round trip, text helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grading.report.result import (
    SubmissionResult,
    TestResult,
    atomic_write_text,
    clean_text,
    format_points,
    truncate_text,
)

STARTED = "2025-03-01T09:30:00+00:00"


def make_tests() -> list[TestResult]:
    return [
        TestResult("test_e_step_shapes", 2, 2, "passed", number="1.1", duration_s=0.0123456,
                   tags=["gmm"]),
        TestResult("test_m_step_means", 3, 0, "failed", reason="your code raised ValueError",
                   expected="[0.5 0.5]", received="[nan nan]", hint="normalise by Nk",
                   output="student print\n", number="1.2"),
        TestResult("accuracy", 4, 4 * 0.7 / 0.9, "failed", kind="performance",
                   visibility="after_due_date", reason="accuracy 0.70 (target 0.90)"),
        TestResult("test_hidden_loglik", 1, 0, "failed", visibility="hidden",
                   expected="-123.4", received="-99.0"),
        TestResult("q1_explain_pca", 2, 0, "pending", kind="manual"),
    ]


def make_result(**overrides) -> SubmissionResult:
    kwargs = dict(submission_id="alice", lab="lab_gmm", tests=make_tests(), isolation="bwrap",
                  grader_version="0.1.0", started_at=STARTED, execution_time=12.3456789,
                  output="", content_hash="sha256:abc")
    kwargs.update(overrides)
    return SubmissionResult(**kwargs)


# ------------------------------------------------------------------ totals and rounding


def test_totals_exclude_pending_items():
    result = make_result()
    assert result.score == pytest.approx(2 + 3.1111, abs=1e-9)
    assert result.max_score == 10.0
    assert result.pending_points == 2.0
    assert result.n_failed == 3
    assert result.n_passed == 1
    assert [t.name for t in result.pending_tests] == ["q1_explain_pca"]
    assert len(result.graded_tests) == 4


def test_scores_and_times_are_rounded():
    test = TestResult("t", 3, 1 / 3, "failed", duration_s=1.23456789)
    assert test.score == 0.3333
    assert test.duration_s == 1.235
    assert make_result().execution_time == 12.346
    assert TestResult("t", 1, -0.0).score == 0.0
    assert str(TestResult("t", 1, -0.0).to_dict()["score"]) == "0.0"


def test_sum_of_rounded_scores_is_rounded():
    tests = [TestResult(f"t{i}", 0.1, 0.1, "passed") for i in range(3)]
    result = make_result(tests=tests)
    assert result.score == 0.3  # not 0.30000000000000004
    assert json.dumps(result.to_dict()["score"]) == "0.3"


def test_numpy_numbers_are_accepted():
    test = TestResult("t", np.float32(2.0), np.float64(1.5), "failed", duration_s=np.int64(2))
    assert type(test.score) is float and test.score == 1.5
    json.dumps(test.to_dict(), allow_nan=False)


# ------------------------------------------------------------------ round trip


def test_round_trip_through_json_is_exact():
    result = make_result()
    data = result.to_dict()
    again = SubmissionResult.from_dict(json.loads(json.dumps(data)))
    assert again == result
    assert again.to_dict() == data
    assert SubmissionResult.from_json(result.to_json()).to_json() == result.to_json()


def test_dict_form_is_deterministic_and_ordered():
    first, second = make_result().to_json(), make_result().to_json()
    assert first == second
    keys = list(make_result().to_dict())
    assert keys[:3] == ["format_version", "submission_id", "lab"]
    assert keys[-1] == "tests"
    test_keys = list(make_result().to_dict()["tests"][0])
    assert test_keys == ["name", "number", "kind", "status", "score", "max_score", "visibility",
                         "reason", "expected", "received", "hint", "output", "tags", "duration_s"]
    assert "started_at" not in test_keys


def test_error_result_round_trips_and_scores_zero():
    result = SubmissionResult.from_error(
        submission_id="bob", lab="lab_sae", error="no submission.py was found in the upload",
        isolation="rlimits-only", grader_version="0.1.0", started_at="2025-03-01T10:00:00Z",
        tests=[TestResult("q1", 2, 0, "pending", kind="manual")])
    assert result.status == "error"
    assert result.score == 0 and result.max_score == 0 and result.pending_points == 2
    assert SubmissionResult.from_dict(result.to_dict()) == result


def test_file_round_trip(tmp_path):
    result = make_result()
    path = result.write_json(tmp_path / "cache" / "alice.json")
    assert SubmissionResult.read_json(path) == result
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_from_dict_accepts_missing_optional_keys():
    data = {"submission_id": "x", "lab": "lab_gmm", "isolation": "bwrap",
            "grader_version": "1", "started_at": STARTED,
            "tests": [{"name": "t", "max_score": 1}]}
    result = SubmissionResult.from_dict(data)
    assert result.tests[0].status == "failed" and result.tests[0].visibility == "visible"
    assert result.status == "graded" and result.output == ""


# ------------------------------------------------------------------ rejections


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(name="t", max_score=2, score=3), "outside [0, max_score=2.0]"),
        (dict(name="t", max_score=2, score=-1), "outside"),
        (dict(name="t", max_score=-1, score=0), "max_score must be >= 0"),
        (dict(name="t", max_score=1, score=float("nan")), "score must be a finite number"),
        (dict(name="t", max_score=float("inf")), "max_score must be a finite number"),
        (dict(name="t", max_score="2"), "max_score must be a number"),
        (dict(name="t", max_score=True), "max_score must be a number"),
        (dict(name="", max_score=1), "name must be a non-empty string"),
        (dict(name="t", max_score=1, status="ok"), "status must be one of passed, failed"),
        (dict(name="t", max_score=1, visibility="secret"), "visibility must be one of"),
        (dict(name="t", max_score=1, kind="bonus"), "kind must be one of"),
        (dict(name="t", max_score=2, score=1, status="passed"), "use status 'failed'"),
        (dict(name="t", max_score=2, status="pending"), "set kind='manual'"),
        (dict(name="t", max_score=2, score=1, status="pending", kind="manual"), "score 0"),
        (dict(name="t", max_score=1, tags="a,b"), "tags must be a list"),
        (dict(name="t", max_score=1, tags=[""]), "each tag"),
        (dict(name="t", max_score=1, number=1), "number must be a string"),
        (dict(name="t", max_score=1, duration_s=-1), "duration_s must be >= 0"),
        (dict(name="t", max_score=1, output=None), "output must be a string"),
    ],
)
def test_test_result_rejects_bad_fields(kwargs, message):
    with pytest.raises(ValueError, match="TestResult") as info:
        TestResult(**kwargs)
    assert message in str(info.value)


def test_from_dict_names_the_bad_test():
    data = make_result().to_dict()
    data["tests"][1]["score"] = 99
    with pytest.raises(ValueError) as info:
        SubmissionResult.from_dict(data)
    text = str(info.value)
    assert "'alice'" in text and "tests[1]" in text and "test_m_step_means" in text
    assert "outside" in text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("lab"), "missing key(s) lab"),
        (lambda d: d.update(colour="red"), "unknown key(s) colour"),
        (lambda d: d["tests"][0].update(weight=2), "unknown key(s) weight"),
        (lambda d: d["tests"][0].pop("max_score"), "missing key(s) max_score"),
        (lambda d: d.update(tests={"a": 1}), "tests must be a list"),
        (lambda d: d["tests"].__setitem__(0, "test_a"), "expected a JSON object"),
        (lambda d: d.update(format_version=99), "format_version 99 is not supported"),
        (lambda d: d.update(score=1000), "stored score 1000"),
        (lambda d: d.update(started_at="yesterday"), "ISO-8601"),
        (lambda d: d.update(status="crashed"), "status must be one of graded, error"),
        (lambda d: d.update(error="boom"), "status is 'graded'"),
        (lambda d: d.update(isolation=""), "isolation must be a non-empty string"),
        (lambda d: d.update(execution_time=-2), "execution_time must be >= 0"),
        (lambda d: d["tests"].append(dict(d["tests"][0])), "two tests are named"),
    ],
)
def test_submission_from_dict_rejects_bad_content(mutate, message):
    data = make_result().to_dict()
    mutate(data)
    with pytest.raises(ValueError) as info:
        SubmissionResult.from_dict(data)
    assert message in str(info.value)


def test_from_dict_rejects_non_dict():
    with pytest.raises(ValueError, match="expected a JSON object"):
        SubmissionResult.from_dict([1, 2])


def test_error_status_needs_message_and_zero_score():
    with pytest.raises(ValueError, match="needs a plain-English error message"):
        make_result(status="error")
    with pytest.raises(ValueError, match="must score 0"):
        make_result(status="error", error="worker crashed")


def test_from_json_rejects_bad_json(tmp_path):
    with pytest.raises(ValueError, match="not valid JSON"):
        SubmissionResult.from_json("{not json")
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(ValueError, match="bad.json"):
        SubmissionResult.read_json(bad)


def test_to_dict_revalidates_after_mutation():
    result = make_result()
    result.tests[0].score = 5
    with pytest.raises(ValueError, match="outside"):
        result.to_dict()


# ------------------------------------------------------------------ text helpers


def test_truncate_text_keeps_head_and_tail_and_reports_count():
    text = "HEAD" + "x" * 20_000 + "TAIL"
    out = truncate_text(text, 1000)
    assert len(out) == 1000
    assert out.startswith("HEAD") and out.endswith("TAIL")
    removed = int(out.split("[... truncated ")[1].split(" characters]")[0])
    assert removed == len(text) - (1000 - len(f"\n[... truncated {removed} characters]\n"))
    assert truncate_text("short", 10) == "short"
    assert len(truncate_text("y" * 100, 5)) <= 5


@pytest.mark.parametrize("cap", [30, 35, 41, 42, 43, 100, 8192])
def test_truncate_text_never_exceeds_cap(cap):
    for size in (cap + 1, cap * 3, 10**5 + 7):
        assert len(truncate_text("z" * size, cap)) <= cap


def test_clean_text_strips_controls_and_ansi():
    raw = "a\x00b\x1b[31mred\x1b[0m\r\nline\rover\ud800end\tok"
    assert clean_text(raw) == "abred\nline\nover?end\tok"


def test_format_points():
    assert [format_points(x) for x in (10.0, 7.5, 1 / 3, 0.0, -0.0, 2)] == [
        "10", "7.5", "0.3333", "0", "0", "2"]


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old content that is longer")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
