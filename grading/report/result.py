"""The one internal result object of the grader, and the text helpers its exporters share.

A :class:`SubmissionResult` holds one :class:`TestResult` per graded check. Both are plain
dataclasses that validate themselves on construction and round-trip through JSON
(``to_dict`` / ``from_dict``): the batch grader caches these dicts on disk and reads them back,
so ``from_dict`` treats its input as untrusted and raises ``ValueError`` naming the bad field.

Scores are rounded to ``SCORE_DECIMALS`` places and the dict form has a fixed key order and no
timestamps inside tests, so identical grading outcomes serialise to identical bytes.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

TEST_STATUSES = ("passed", "failed", "pending")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
KINDS = ("auto", "manual", "performance")
SUBMISSION_STATUSES = ("graded", "error")
SCORE_DECIMALS = 4
TIME_DECIMALS = 3
FORMAT_VERSION = 1
"""Version of the dict layout written by :meth:`SubmissionResult.to_dict`."""


# --------------------------------------------------------------------------- small helpers


def round_score(value: float) -> float:
    """``value`` rounded to ``SCORE_DECIMALS`` places, with ``-0.0`` folded into ``0.0``."""
    return round(float(value), SCORE_DECIMALS) + 0.0


def format_points(value: float) -> str:
    """Points for people: ``10.0 -> '10'``, ``7.5 -> '7.5'``, ``1/3 -> '0.3333'``."""
    text = f"{round_score(value):.{SCORE_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string with second precision (for ``started_at``)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Text safe to publish: no ANSI escapes, no control characters but tab and newline,
    carriage returns turned into newlines and undecodable bytes (lone surrogates) replaced."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = _ANSI_ESCAPE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def truncate_text(text: str, cap: int) -> str:
    """``text`` if it has at most ``cap`` characters; otherwise its head and tail around a
    ``[... truncated N characters]`` note, ``cap`` characters in all (the tail of a traceback
    or a log is usually the useful part, so both ends are kept)."""
    if cap < 0:
        raise ValueError(f"truncate_text: cap must be >= 0, got {cap}.")
    if len(text) <= cap:
        return text
    removed = len(text) - cap
    while True:  # the note's length depends on the number it reports: find the fixed point
        note = f"\n[... truncated {removed} characters]\n"
        keep = cap - len(note)
        if keep <= 0:
            return note.strip()[:cap]
        if len(text) - keep == removed:
            break
        removed = len(text) - keep
    head = keep - keep // 2
    tail = keep - head
    return text[:head] + note + (text[len(text) - tail:] if tail else "")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and ``os.replace``, so a
    reader never sees half a file. Creates the parent folder. Returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _where(owner: str, name: str | None) -> str:
    return f"{owner} {name!r}" if name else owner


def _check_str(owner: str, key: str, value: Any, *, empty_ok: bool = True) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{owner}: {key} must be a string, got {type(value).__name__} {value!r}.")
    if not empty_ok and not value.strip():
        raise ValueError(f"{owner}: {key} must be a non-empty string, got {value!r}.")
    return value


def _check_opt_str(owner: str, key: str, value: Any) -> str | None:
    return None if value is None else _check_str(owner, key, value)


def _check_number(owner: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: {key} must be a number, got {type(value).__name__} {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner}: {key} must be a finite number, got {number!r}.")
    return number


def _check_choice(owner: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{owner}: {key} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def _check_keys(owner: str, data: Any, required: set[str], known: set[str]) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{owner}: expected a JSON object (dict), got {type(data).__name__}.")
    missing = sorted(required - data.keys())
    if missing:
        raise ValueError(f"{owner}: missing key(s) {', '.join(missing)}.")
    unknown = sorted(str(k) for k in data.keys() - known)
    if unknown:
        raise ValueError(
            f"{owner}: unknown key(s) {', '.join(unknown)}; the known keys are "
            f"{', '.join(sorted(known))}."
        )


# --------------------------------------------------------------------------- TestResult


@dataclass
class TestResult:
    """One graded check (an automatic test, a performance threshold) or one manual item.

    ``score`` lies in ``[0, max_score]``. ``status`` is ``"passed"`` (full marks), ``"failed"``
    (anything less, including partial credit) or ``"pending"`` (a written answer graded by hand:
    ``kind="manual"``, score 0, not counted in the autograder score). ``output`` is shown to the
    student and may contain captured student output; ``expected`` / ``received`` / ``hint`` /
    ``reason`` explain a failure in the feedback.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    max_score: float
    score: float = 0.0
    status: str = "failed"
    visibility: str = "visible"
    output: str = ""
    duration_s: float = 0.0
    expected: str | None = None
    received: str | None = None
    hint: str | None = None
    reason: str | None = None
    tags: list[str] = field(default_factory=list)
    number: str | None = None
    kind: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Normalise (round numbers) and check every field; ``ValueError`` on the first bad one."""
        owner = "TestResult"
        self.name = _check_str(owner, "name", self.name, empty_ok=False)
        owner = _where("TestResult", self.name)
        self.max_score = round_score(_check_number(owner, "max_score", self.max_score))
        self.score = round_score(_check_number(owner, "score", self.score))
        self.duration_s = round(_check_number(owner, "duration_s", self.duration_s), TIME_DECIMALS)
        self.status = _check_choice(owner, "status", self.status, TEST_STATUSES)
        self.visibility = _check_choice(owner, "visibility", self.visibility, VISIBILITIES)
        self.kind = _check_choice(owner, "kind", self.kind, KINDS)
        self.output = _check_str(owner, "output", self.output)
        for key in ("expected", "received", "hint", "reason", "number"):
            setattr(self, key, _check_opt_str(owner, key, getattr(self, key)))
        if isinstance(self.tags, tuple):
            self.tags = list(self.tags)
        if not isinstance(self.tags, list):
            raise ValueError(f"{owner}: tags must be a list of strings, got {self.tags!r}.")
        for tag in self.tags:
            _check_str(owner, "each tag", tag, empty_ok=False)
        if self.max_score < 0:
            raise ValueError(f"{owner}: max_score must be >= 0, got {self.max_score}.")
        if self.duration_s < 0:
            raise ValueError(f"{owner}: duration_s must be >= 0, got {self.duration_s}.")
        if not 0 <= self.score <= self.max_score:
            raise ValueError(
                f"{owner}: score {self.score} is outside [0, max_score={self.max_score}]."
            )
        if self.status == "passed" and self.score != self.max_score:
            raise ValueError(
                f"{owner}: status 'passed' needs score == max_score ({self.max_score}), got "
                f"{self.score}; use status 'failed' for partial credit."
            )
        if self.status == "pending":
            if self.kind != "manual":
                raise ValueError(
                    f"{owner}: status 'pending' is for items graded by hand; set kind='manual' "
                    f"(got kind={self.kind!r})."
                )
            if self.score != 0:
                raise ValueError(f"{owner}: a pending item has score 0 until graded, got "
                                 f"{self.score}.")

    @property
    def pending(self) -> bool:
        """True for a manual item still waiting for a grade."""
        return self.status == "pending"

    @property
    def lost_points(self) -> bool:
        """True for a graded row that failed or scored below its maximum."""
        return not self.pending and (self.status == "failed" or self.score < self.max_score)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with a fixed key order (the inverse of :meth:`from_dict`)."""
        self.validate()
        return {
            "name": self.name,
            "number": self.number,
            "kind": self.kind,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "visibility": self.visibility,
            "reason": self.reason,
            "expected": self.expected,
            "received": self.received,
            "hint": self.hint,
            "output": self.output,
            "tags": list(self.tags),
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: Any, *, context: str = "TestResult") -> TestResult:
        """Rebuild a TestResult from :meth:`to_dict`'s form; ``ValueError`` on bad input."""
        _check_keys(context, data, {"name", "max_score"}, set(_TEST_FIELDS))
        try:
            return cls(**data)
        except ValueError as err:
            raise ValueError(f"{context}: {err}") from None


_TEST_FIELDS = tuple(TestResult.__dataclass_fields__)


# --------------------------------------------------------------------------- SubmissionResult


@dataclass
class SubmissionResult:
    """Everything the grader found about one submission of one lab.

    ``status="error"`` means the grader itself could not produce test rows (no
    ``submission.py``, the worker would not start, ...): such a result is still valid, scores 0
    and carries the reason in ``error``. ``isolation`` names the sandbox level actually used
    (``"bwrap"``, ``"rlimits-only"``, ...) and is written into every export.
    """

    submission_id: str
    lab: str
    tests: list[TestResult]
    isolation: str
    grader_version: str
    started_at: str
    execution_time: float = 0.0
    output: str = ""
    status: str = "graded"
    error: str | None = None
    content_hash: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Normalise and check every field and every test; ``ValueError`` on the first bad one."""
        owner = "SubmissionResult"
        self.submission_id = _check_str(owner, "submission_id", self.submission_id,
                                        empty_ok=False)
        owner = _where("SubmissionResult", self.submission_id)
        self.lab = _check_str(owner, "lab", self.lab, empty_ok=False)
        self.isolation = _check_str(owner, "isolation", self.isolation, empty_ok=False)
        self.grader_version = _check_str(owner, "grader_version", self.grader_version,
                                         empty_ok=False)
        self.started_at = _check_str(owner, "started_at", self.started_at, empty_ok=False)
        try:
            datetime.fromisoformat(self.started_at.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{owner}: started_at must be an ISO-8601 time like '2025-01-31T14:05:00+00:00',"
                f" got {self.started_at!r}."
            ) from None
        self.execution_time = round(_check_number(owner, "execution_time", self.execution_time),
                                    TIME_DECIMALS)
        if self.execution_time < 0:
            raise ValueError(f"{owner}: execution_time must be >= 0, got {self.execution_time}.")
        self.output = _check_str(owner, "output", self.output)
        self.status = _check_choice(owner, "status", self.status, SUBMISSION_STATUSES)
        self.error = _check_opt_str(owner, "error", self.error)
        self.content_hash = _check_opt_str(owner, "content_hash", self.content_hash)
        if isinstance(self.tests, tuple):
            self.tests = list(self.tests)
        if not isinstance(self.tests, list):
            raise ValueError(f"{owner}: tests must be a list of TestResult, got "
                             f"{type(self.tests).__name__}.")
        seen: set[str] = set()
        for index, test in enumerate(self.tests):
            if not isinstance(test, TestResult):
                raise ValueError(f"{owner}: tests[{index}] must be a TestResult, got "
                                 f"{type(test).__name__}.")
            test.validate()
            if test.name in seen:
                raise ValueError(f"{owner}: two tests are named {test.name!r}; test names must "
                                 "be unique (they become gradebook columns).")
            seen.add(test.name)
        if self.status == "error":
            if not self.error or not self.error.strip():
                raise ValueError(f"{owner}: status 'error' needs a plain-English error message.")
            if self.score != 0:
                raise ValueError(f"{owner}: a result with status 'error' must score 0, got "
                                 f"{self.score}.")
        elif self.error is not None:
            raise ValueError(f"{owner}: error is set ({self.error!r}) but status is 'graded'; "
                             "use status 'error' when the grader could not grade.")

    # ---- totals
    @property
    def graded_tests(self) -> list[TestResult]:
        """The rows that count towards the autograder score (everything but pending items)."""
        return [t for t in self.tests if not t.pending]

    @property
    def pending_tests(self) -> list[TestResult]:
        """Manual items still waiting for a grade by hand."""
        return [t for t in self.tests if t.pending]

    @property
    def score(self) -> float:
        """Sum of the scores of the non-pending rows."""
        return round_score(sum(t.score for t in self.graded_tests))

    @property
    def max_score(self) -> float:
        """Sum of the maximum scores of the non-pending rows."""
        return round_score(sum(t.max_score for t in self.graded_tests))

    @property
    def pending_points(self) -> float:
        """Sum of the maximum scores of the pending (hand-graded) rows."""
        return round_score(sum(t.max_score for t in self.pending_tests))

    @property
    def n_failed(self) -> int:
        """Number of non-pending rows with status ``"failed"``."""
        return sum(1 for t in self.graded_tests if t.status == "failed")

    @property
    def n_passed(self) -> int:
        """Number of rows with status ``"passed"``."""
        return sum(1 for t in self.tests if t.status == "passed")

    # ---- construction helpers
    @classmethod
    def from_error(
        cls,
        *,
        submission_id: str,
        lab: str,
        error: str,
        isolation: str,
        grader_version: str,
        started_at: str,
        execution_time: float = 0.0,
        output: str = "",
        content_hash: str | None = None,
        tests: list[TestResult] | None = None,
    ) -> SubmissionResult:
        """A valid ``status="error"`` result scoring 0 (``tests`` may list pending items)."""
        return cls(submission_id=submission_id, lab=lab, tests=list(tests or []),
                   isolation=isolation, grader_version=grader_version, started_at=started_at,
                   execution_time=execution_time, output=output, status="error", error=error,
                   content_hash=content_hash)

    # ---- serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with a fixed key order (the inverse of :meth:`from_dict`)."""
        self.validate()
        return {
            "format_version": FORMAT_VERSION,
            "submission_id": self.submission_id,
            "lab": self.lab,
            "status": self.status,
            "error": self.error,
            "score": self.score,
            "max_score": self.max_score,
            "pending_points": self.pending_points,
            "isolation": self.isolation,
            "grader_version": self.grader_version,
            "content_hash": self.content_hash,
            "started_at": self.started_at,
            "execution_time": self.execution_time,
            "output": self.output,
            "tests": [t.to_dict() for t in self.tests],
        }

    @classmethod
    def from_dict(cls, data: Any) -> SubmissionResult:
        """Rebuild a SubmissionResult from :meth:`to_dict`'s form (e.g. a cached file).

        Raises ``ValueError`` naming the bad key on missing, unknown or invalid content. The
        derived totals (``score``, ``max_score``, ``pending_points``) are optional in the input
        but, when present, must agree with the tests.
        """
        owner = "SubmissionResult"
        derived = {"format_version", "score", "max_score", "pending_points"}
        required = {"submission_id", "lab", "tests", "isolation", "grader_version", "started_at"}
        _check_keys(owner, data, required, set(_SUBMISSION_FIELDS) | derived)
        if isinstance(data.get("submission_id"), str):
            owner = _where(owner, data["submission_id"])
        version = data.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ValueError(f"{owner}: format_version {version!r} is not supported (this grader "
                             f"reads version {FORMAT_VERSION}); grade the submission again.")
        raw_tests = data["tests"]
        if not isinstance(raw_tests, list):
            raise ValueError(f"{owner}: tests must be a list, got {type(raw_tests).__name__}.")
        tests = [TestResult.from_dict(t, context=f"{owner}: tests[{i}]")
                 for i, t in enumerate(raw_tests)]
        kwargs = {k: v for k, v in data.items() if k in _SUBMISSION_FIELDS}
        kwargs["tests"] = tests
        result = cls(**kwargs)
        for key in sorted(derived - {"format_version"}):
            if key in data:
                stored = _check_number(owner, key, data[key])
                if round_score(stored) != getattr(result, key):
                    raise ValueError(f"{owner}: stored {key} {stored} disagrees with the sum over "
                                     f"the tests ({getattr(result, key)}); the file is corrupt.")
        return result

    def to_json(self) -> str:
        """The dict form as deterministic JSON text (2-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SubmissionResult:
        """Parse :meth:`to_json`'s text; ``ValueError`` on bad JSON or bad content."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"SubmissionResult: not valid JSON ({err}).") from None
        return cls.from_dict(data)

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Atomically write :meth:`to_json` to ``path`` (e.g. the batch grader's cache)."""
        return atomic_write_text(path, self.to_json())

    @classmethod
    def read_json(cls, path: str | os.PathLike[str]) -> SubmissionResult:
        """Read a file written by :meth:`write_json`; ``ValueError`` names the file if bad."""
        try:
            return cls.from_json(Path(path).read_text(encoding="utf-8"))
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


_SUBMISSION_FIELDS = tuple(SubmissionResult.__dataclass_fields__)
