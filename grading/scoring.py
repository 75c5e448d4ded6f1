"""Partial credit for metrics, and the lab rubric that holds the thresholds.

``points * clip((metric - floor) / (target - floor), 0, 1)``: ``floor`` earns nothing,
``target`` earns everything, linear in between. It works both ways round: for accuracy
(higher is better) ``target > floor``; for a loss or an error rate (lower is better)
``target < floor``.

A lab's ``instructor/rubric.json`` looks like this (``manual`` and ``description`` optional)::

    {
      "thresholds": {
        "test_accuracy": {"floor": 0.5, "target": 0.9, "points": 4,
                          "description": "accuracy of the GMM clustering on held-out digits"},
        "recon_mse": {"floor": 0.08, "target": 0.03, "points": 2}
      },
      "manual": {
        "q1_explain_pca": {"points": 2, "prompt": "Why does PCA help the GMM here?"}
      }
    }
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CREDIT_DECIMALS = 4

_RUBRIC_KEYS = {"thresholds", "manual", "$comment"}
_THRESHOLD_KEYS = {"floor", "target", "points", "description"}
_MANUAL_KEYS = {"points", "prompt"}


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__} {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number!r}.")
    return number


def partial_credit(metric: float, floor: float, target: float, points: float) -> float:
    """``points * clip((metric - floor) / (target - floor), 0, 1)``, rounded to 4 decimals.

    ``target > floor`` means higher is better, ``target < floor`` lower is better. A NaN or
    infinite ``metric`` earns 0 (a student's broken metric is no credit, not a grader crash).
    Raises ``ValueError`` when ``floor == target``, when ``floor``, ``target`` or ``points``
    are not finite numbers, or when ``points < 0``.
    """
    floor = _finite("partial_credit: floor", floor)
    target = _finite("partial_credit: target", target)
    points = _finite("partial_credit: points", points)
    if floor == target:
        raise ValueError(f"partial_credit: floor and target are both {floor}; they must differ "
                         "(target > floor for higher-is-better, target < floor for lower).")
    if points < 0:
        raise ValueError(f"partial_credit: points must be >= 0, got {points}.")
    if isinstance(metric, bool) or not isinstance(metric, numbers.Real):
        raise ValueError(f"partial_credit: metric must be a real number, got "
                         f"{type(metric).__name__} {metric!r}.")
    metric = float(metric)
    if not math.isfinite(metric):
        return 0.0
    fraction = min(1.0, max(0.0, (metric - floor) / (target - floor)))
    return round(points * fraction, CREDIT_DECIMALS) + 0.0


@dataclass(frozen=True)
class Threshold:
    """One performance check of a rubric: ``floor`` earns 0, ``target`` earns ``points``."""

    name: str
    floor: float
    target: float
    points: float
    description: str = ""

    def __post_init__(self) -> None:
        where = f"Threshold {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Threshold: name must be a non-empty string, got {self.name!r}.")
        for key in ("floor", "target", "points"):
            object.__setattr__(self, key, _finite(f"{where}: {key}", getattr(self, key)))
        if self.floor == self.target:
            raise ValueError(f"{where}: floor and target are both {self.floor}; they must differ.")
        if self.points < 0:
            raise ValueError(f"{where}: points must be >= 0, got {self.points}.")
        if not isinstance(self.description, str):
            raise ValueError(f"{where}: description must be a string, got {self.description!r}.")

    @property
    def higher_is_better(self) -> bool:
        """True when ``target > floor`` (accuracy-like), False for loss-like metrics."""
        return self.target > self.floor

    def credit(self, metric: float) -> float:
        """The points earned by ``metric`` (see :func:`partial_credit`)."""
        return partial_credit(metric, self.floor, self.target, self.points)


@dataclass(frozen=True)
class ManualItem:
    """A written answer graded by hand: it appears as a pending row worth ``points``."""

    name: str
    points: float
    prompt: str


class Rubric(dict[str, Threshold]):
    """The thresholds of a lab, by name (a plain ``dict[str, Threshold]``), plus ``manual``:
    the hand-graded items by name, and ``path``: the file it was read from."""

    def __init__(self, thresholds: dict[str, Threshold], manual: dict[str, ManualItem],
                 path: Path | None = None) -> None:
        super().__init__(thresholds)
        self.manual = dict(manual)
        self.path = path

    @property
    def thresholds(self) -> dict[str, Threshold]:
        """The thresholds as a plain dict."""
        return dict(self)

    @property
    def max_points(self) -> float:
        """Points of all thresholds (the manual items not included)."""
        return round(sum(t.points for t in self.values()), CREDIT_DECIMALS)

    @property
    def manual_points(self) -> float:
        """Points of all manual items."""
        return round(sum(m.points for m in self.manual.values()), CREDIT_DECIMALS)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} appears twice in the same object")
        seen[key] = value
    return seen


def _section(where: str, data: dict[str, Any], key: str, required: bool) -> dict[str, Any]:
    if key not in data:
        if required:
            raise ValueError(f"{where}: missing the {key!r} object "
                             '(e.g. {"thresholds": {"accuracy": {"floor": 0.5, "target": 0.9, '
                             '"points": 4}}}).')
        return {}
    section = data[key]
    if not isinstance(section, dict):
        raise ValueError(f"{where}: {key!r} must be an object mapping names to entries, got "
                         f"{type(section).__name__}.")
    return section


def _entry(where: str, value: Any, required: set[str], known: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object with {', '.join(sorted(required))}, got "
                         f"{type(value).__name__} {value!r}.")
    missing = sorted(required - value.keys())
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}.")
    unknown = sorted(value.keys() - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(sorted(known))}.")
    return value


def parse_rubric(data: Any, source: str = "rubric") -> Rubric:
    """Build a :class:`Rubric` from already-parsed JSON; ``ValueError`` names ``source`` and the
    offending key."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: the rubric must be a JSON object, got {type(data).__name__}.")
    unknown = sorted(data.keys() - _RUBRIC_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown top-level key(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(sorted(_RUBRIC_KEYS))}.")
    thresholds: dict[str, Threshold] = {}
    for name, raw in _section(source, data, "thresholds", required=True).items():
        where = f"{source}: thresholds[{name!r}]"
        entry = _entry(where, raw, {"floor", "target", "points"}, _THRESHOLD_KEYS)
        try:
            thresholds[name] = Threshold(name=name, **entry)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
    manual: dict[str, ManualItem] = {}
    for name, raw in _section(source, data, "manual", required=False).items():
        where = f"{source}: manual[{name!r}]"
        entry = _entry(where, raw, _MANUAL_KEYS, _MANUAL_KEYS)
        if not name.strip():
            raise ValueError(f"{where}: the name must be non-empty.")
        if name in thresholds:
            raise ValueError(f"{where}: the name is also a threshold; names must be unique.")
        points = _finite(f"{where}: points", entry["points"])
        if points < 0:
            raise ValueError(f"{where}: points must be >= 0, got {points}.")
        prompt = entry["prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"{where}: prompt must be a non-empty string, got {prompt!r}.")
        manual[name] = ManualItem(name=name, points=points, prompt=prompt)
    return Rubric(thresholds, manual)


def load_rubric(path: str | os.PathLike[str]) -> Rubric:
    """Read a lab's ``instructor/rubric.json``: a ``dict[str, Threshold]`` (a :class:`Rubric`)
    whose ``.manual`` holds the hand-graded items. ``ValueError`` names the file and the key
    on bad content; a missing file raises ``FileNotFoundError``."""
    rubric_path = Path(path)
    text = rubric_path.read_text(encoding="utf-8")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise ValueError(f"{rubric_path}: not valid JSON: {err}.") from None
    except ValueError as err:
        raise ValueError(f"{rubric_path}: {err}.") from None
    rubric = parse_rubric(data, source=str(rubric_path))
    rubric.path = rubric_path
    return rubric
