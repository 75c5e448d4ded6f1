"""Partial credit for metrics and the lab rubric file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from grading.scoring import ManualItem, Rubric, Threshold, load_rubric, parse_rubric, partial_credit

# ------------------------------------------------------------------ partial_credit


@pytest.mark.parametrize(
    ("metric", "expected"),
    [(0.5, 0.0), (0.4, 0.0), (0.7, 2.0), (0.9, 4.0), (0.95, 4.0), (0.6, 1.0), (-1e9, 0.0)],
)
def test_higher_is_better(metric, expected):
    assert partial_credit(metric, floor=0.5, target=0.9, points=4) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [(0.08, 0.0), (0.1, 0.0), (0.055, 1.0), (0.03, 2.0), (0.01, 2.0), (1e9, 0.0)],
)
def test_lower_is_better(metric, expected):
    assert partial_credit(metric, floor=0.08, target=0.03, points=2) == pytest.approx(expected)


@pytest.mark.parametrize("metric", [float("nan"), np.nan, float("inf"), -float("inf"),
                                    np.float32("nan")])
def test_non_finite_metric_earns_nothing(metric):
    assert partial_credit(metric, 0.5, 0.9, 4) == 0.0
    assert partial_credit(metric, 0.9, 0.5, 4) == 0.0


def test_floor_equal_to_target_is_an_error():
    with pytest.raises(ValueError, match="floor and target are both 0.5"):
        partial_credit(0.7, 0.5, 0.5, 4)


@pytest.mark.parametrize(
    ("floor", "target", "points", "message"),
    [
        (float("nan"), 0.9, 4, "floor must be finite"),
        (0.5, float("inf"), 4, "target must be finite"),
        (0.5, 0.9, float("nan"), "points must be finite"),
        (0.5, 0.9, -1, "points must be >= 0"),
        ("0.5", 0.9, 4, "floor must be a real number"),
    ],
)
def test_bad_rubric_numbers_are_errors(floor, target, points, message):
    with pytest.raises(ValueError, match=message):
        partial_credit(0.7, floor, target, points)


def test_non_numeric_metric_is_an_error():
    with pytest.raises(ValueError, match="metric must be a real number"):
        partial_credit("0.7", 0.5, 0.9, 4)
    with pytest.raises(ValueError, match="metric must be a real number"):
        partial_credit(True, 0.5, 0.9, 4)


def test_result_is_rounded_plain_float_and_bounded():
    credit = partial_credit(np.float32(0.6), 0.5, 0.8, 1)
    assert type(credit) is float and credit == 0.3333
    assert partial_credit(0.9, 0.5, 0.9, 0) == 0.0
    for metric in np.linspace(-1, 2, 301):
        assert 0.0 <= partial_credit(float(metric), 0.5, 0.9, 4) <= 4.0
        assert 0.0 <= partial_credit(float(metric), 0.9, 0.5, 4) <= 4.0


def test_integer_metric_and_bounds():
    assert partial_credit(15, 10, 20, 10) == 5.0


# ------------------------------------------------------------------ Threshold


def test_threshold_direction_and_credit():
    acc = Threshold("accuracy", floor=0.5, target=0.9, points=4)
    mse = Threshold("recon_mse", floor=0.08, target=0.03, points=2)
    assert acc.higher_is_better and not mse.higher_is_better
    assert acc.credit(0.7) == 2.0 and mse.credit(0.055) == 1.0
    assert acc.credit(math.nan) == 0.0


def test_threshold_validates():
    with pytest.raises(ValueError, match="Threshold 'x': floor and target are both 1.0"):
        Threshold("x", 1, 1, 2)
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        Threshold("", 0, 1, 2)
    with pytest.raises(ValueError, match="points must be >= 0"):
        Threshold("x", 0, 1, -2)


# ------------------------------------------------------------------ rubric.json

GOOD_RUBRIC = {
    "$comment": "calibrated on seeds 0-4",
    "thresholds": {
        "test_accuracy": {"floor": 0.5, "target": 0.9, "points": 4,
                          "description": "clustering accuracy"},
        "recon_mse": {"floor": 0.08, "target": 0.03, "points": 2},
    },
    "manual": {"q1_explain_pca": {"points": 2, "prompt": "Why does PCA help the GMM?"}},
}


def write(tmp_path, content) -> str:
    path = tmp_path / "instructor" / "rubric.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_load_rubric(tmp_path):
    rubric = load_rubric(write(tmp_path, GOOD_RUBRIC))
    assert isinstance(rubric, dict) and isinstance(rubric, Rubric)
    assert list(rubric) == ["test_accuracy", "recon_mse"]
    assert rubric["test_accuracy"] == Threshold("test_accuracy", 0.5, 0.9, 4.0,
                                                "clustering accuracy")
    assert rubric["recon_mse"].credit(0.03) == 2.0
    assert rubric.manual == {"q1_explain_pca": ManualItem("q1_explain_pca", 2.0,
                                                          "Why does PCA help the GMM?")}
    assert rubric.max_points == 6.0 and rubric.manual_points == 2.0
    assert rubric.thresholds == dict(rubric)
    assert str(rubric.path).endswith("rubric.json")


def test_manual_section_is_optional(tmp_path):
    rubric = load_rubric(write(tmp_path, {"thresholds": {}}))
    assert rubric == {} and rubric.manual == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "the rubric must be a JSON object"),
        ({}, "missing the 'thresholds' object"),
        ({"thresholds": [], "manual": {}}, "'thresholds' must be an object"),
        ({"thresholds": {}, "bonus": {}}, "unknown top-level key(s) bonus"),
        ({"thresholds": {"acc": {"floor": 0.5, "points": 4}}},
         "thresholds['acc']: missing target"),
        ({"thresholds": {"acc": {"floor": 0.5, "target": 0.9, "points": 4, "weight": 1}}},
         "thresholds['acc']: unknown key(s) weight"),
        ({"thresholds": {"acc": {"floor": 0.5, "target": 0.5, "points": 4}}},
         "thresholds['acc']: Threshold 'acc': floor and target are both 0.5"),
        ({"thresholds": {"acc": {"floor": "low", "target": 0.9, "points": 4}}},
         "thresholds['acc']: Threshold 'acc': floor must be a real number"),
        ({"thresholds": {"acc": {"floor": 0.1, "target": 0.9, "points": -4}}},
         "points must be >= 0"),
        ({"thresholds": {"acc": 4}}, "thresholds['acc']: expected an object"),
        ({"thresholds": {}, "manual": {"q1": {"points": 2}}}, "manual['q1']: missing prompt"),
        ({"thresholds": {}, "manual": {"q1": {"points": 2, "prompt": " "}}},
         "manual['q1']: prompt must be a non-empty string"),
        ({"thresholds": {}, "manual": {"q1": {"points": "two", "prompt": "p"}}},
         "manual['q1']: points must be a real number"),
        ({"thresholds": {"acc": {"floor": 0.1, "target": 0.9, "points": 1}},
          "manual": {"acc": {"points": 2, "prompt": "p"}}}, "names must be unique"),
        ('{"thresholds": {"acc": {"floor": 0.1, "target": 0.9, "points": 1},'
         ' "acc": {"floor": 0.2, "target": 0.9, "points": 1}}}', "key 'acc' appears twice"),
        ('{"thresholds": {"acc": {"floor": NaN, "target": 0.9, "points": 1}}}',
         "floor must be finite"),
    ],
)
def test_bad_rubric_names_file_and_key(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(ValueError) as info:
        load_rubric(path)
    text = str(info.value)
    assert path in text
    assert message in text


def test_missing_rubric_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_rubric(tmp_path / "nope.json")


def test_parse_rubric_names_its_source():
    with pytest.raises(ValueError, match="lab_gmm rubric: missing the 'thresholds'"):
        parse_rubric({}, source="lab_gmm rubric")
