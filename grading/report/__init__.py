"""Grading results: the one internal result object and its exporters.

- :mod:`grading.report.result`: :class:`TestResult` and :class:`SubmissionResult`, JSON
  round-trippable (the batch grader caches their dicts).
- :mod:`grading.report.gradescope`: Gradescope ``results.json``.
- :mod:`grading.report.feedback`: ``feedback.md`` for the student (or a TA view).
"""

from grading.report.feedback import render_feedback, write_feedback
from grading.report.gradescope import to_gradescope, write_results_json
from grading.report.result import (
    KINDS,
    SUBMISSION_STATUSES,
    TEST_STATUSES,
    VISIBILITIES,
    SubmissionResult,
    TestResult,
)

__all__ = [
    "KINDS",
    "SUBMISSION_STATUSES",
    "TEST_STATUSES",
    "VISIBILITIES",
    "SubmissionResult",
    "TestResult",
    "render_feedback",
    "to_gradescope",
    "write_feedback",
    "write_results_json",
]
