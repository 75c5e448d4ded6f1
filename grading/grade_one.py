"""Grading one submission: hidden tests through the plugin, manual items, results on disk.

This module runs in the trusted grader process. It never imports the student's code: the
pytest plugin reaches it through a sandboxed worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from grading import GRADER_VERSION
from grading.report.feedback import write_feedback
from grading.report.gradescope import write_results_json
from grading.report.result import SubmissionResult, TestResult, now_iso
from grading.sandbox.launcher import SandboxSpec, choose_isolation, require_unprivileged_workers
from grading.scoring import load_rubric
from grading.session import read_submission_files

RESULT_FILE = "result.json"  # the internal result (the batch grader's cache)


def content_hash(files: dict[str, bytes]) -> str:
    """A sha256 over the submission's file names and contents, independent of their order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def manual_rows(lab_dir: Path) -> list[TestResult]:
    """Pending rows for the written questions of the lab's rubric (graded by hand)."""
    path = lab_dir / "instructor" / "rubric.json"
    if not path.is_file():
        return []
    return [TestResult(name=f"{item.name} (written, graded by hand)", max_score=item.points,
                       status="pending", kind="manual", output=item.prompt)
            for item in load_rubric(path).manual.values()]


GRADER_SETTINGS = "grader.json"  # lab_x/instructor/grader.json: {"preload": [...], "threads": n}


def lab_settings(lab_dir: Path) -> dict:
    """The lab's sandbox settings (``instructor/grader.json``), or {} when it has none.

    ``preload``: modules each worker imports before the student's code (e.g. ["numpy", "torch"]);
    ``threads``: CPU threads per worker.
    """
    path = lab_dir / "instructor" / GRADER_SETTINGS
    if not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: expected an object with 'preload' and/or 'threads'; "
                         f"received {type(settings).__name__} {str(settings)[:80]}")
    unknown = set(settings) - {"preload", "threads"}
    if unknown:
        raise ValueError(f"{path}: expected an object with 'preload' and/or 'threads'; "
                         f"unknown keys {sorted(unknown)}")
    preload = settings.get("preload", [])
    if not isinstance(preload, list) or not all(
            isinstance(m, str) and m and "," not in m for m in preload):
        raise ValueError(f"{path}: 'preload' must be a list of module names such as "
                         f'["numpy", "torch"]; received {preload!r:.80}')
    threads = settings.get("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"{path}: 'threads' must be an integer >= 1; received {threads!r:.80}")
    return settings


def forget_modules_under(folder: Path) -> None:
    """Drop from ``sys.modules`` every module imported from a file inside ``folder``.

    pytest's importlib mode reuses a module already in ``sys.modules`` under the same name, and
    names come from paths: without this, grading a second lab in the same process would run
    the first lab's ``instructor/hidden_tests/conftest.py`` and same-named test files.
    """
    prefix = os.path.join(os.path.abspath(folder), "")
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.abspath(file).startswith(prefix):
            del sys.modules[name]


class TestRun(NamedTuple):
    """What one pytest run of a lab's tests on one submission found."""

    tests: list[TestResult]
    isolation: str  # the level actually used
    log: str  # what pytest printed
    notes: str  # for the top of the feedback (a submission that does not import)


def run_hidden_tests(lab_dir: Path, submission: Path, isolation: str, preload: str,
                     threads: int, tests_dir: Path | None = None) -> TestRun:
    """Run the tests in ``tests_dir`` (default: ``lab_dir/instructor/hidden_tests``) on
    ``submission``."""
    hidden = tests_dir or lab_dir / "instructor" / "hidden_tests"
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        out_json = Path(tmp) / "tests.json"
        code, log = _run_pytest(lab_dir, hidden, [
            f"--submission={submission}", f"--isolation={isolation}", f"--preload={preload}",
            f"--worker-threads={threads}", f"--grading-json={out_json}"])
        if not out_json.is_file():
            raise RuntimeError(f"the hidden tests did not run (pytest exit code {code}):\n"
                               f"{log[-3000:]}")
        payload = json.loads(out_json.read_text())
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            raise RuntimeError(f"the hidden tests could not be collected or run (pytest exit "
                               f"code {int(code)}):\n{log[-3000:]}")
    tests = [TestResult.from_dict(t) for t in payload["tests"]]
    return TestRun(tests, payload["isolation"], log, str(payload.get("notes", "")))


def _run_pytest(lab_dir: Path, hidden: Path, extra: list[str]) -> tuple[int, str]:
    """pytest with the grading plugin on the hidden tests in ``hidden``, in this process;
    (exit code, what it printed)."""
    # rootdir above the lab: test modules are named "<lab>.tests.test_x", never like the
    # project's own "tests.conftest" when this runs inside another pytest session
    args = [str(hidden), "-p", "grading.pytest_plugin", "-p", "no:cacheprovider",
            "-q", "--no-header", f"--rootdir={lab_dir.parent}", f"--confcutdir={lab_dir}",
            "-o", "addopts=", "-o", "python_files=test_*.py", "--import-mode=importlib",
            f"--lab-dir={lab_dir}", *extra]
    log = io.StringIO()
    forget_modules_under(lab_dir)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            code = pytest.main(args)
    finally:
        forget_modules_under(lab_dir)
    return int(code), log.getvalue()


def check_hidden_tests(lab_dir: Path) -> str | None:
    """Collect the lab's hidden tests without running them; None when they are fine, else
    pytest's report (a syntax error, a bad marker, a missing module) for the instructor."""
    hidden = lab_dir / "instructor" / "hidden_tests"
    code, log = _run_pytest(lab_dir, hidden, ["--collect-only", "-q"])
    if code == pytest.ExitCode.OK:
        return None
    return f"the hidden tests of {lab_dir.name} cannot be collected (pytest exit code {code}):\n" \
        f"{log[-3000:]}"


def grade_submission(lab_dir: Path, submission: Path, out_dir: Path | None = None, *,
                     submission_id: str | None = None, isolation: str = "auto",
                     preload: str | None = None, threads: int | None = None
                     ) -> SubmissionResult:
    """Grade ``submission`` (a folder with submission.py, or a .py file) against ``lab_dir``.

    Never raises for a bad submission: a missing file or a grader-side failure gives a result
    with ``status="error"`` and its reason. ``preload`` (comma-separated) and ``threads``
    default to the lab's ``instructor/grader.json``. Writes ``results.json`` (Gradescope),
    ``feedback.md`` and ``result.json`` (internal) into ``out_dir`` when given.
    """
    lab_dir, submission = Path(lab_dir).resolve(), Path(submission).resolve()
    submission_id = submission_id or submission.stem
    started, clock = now_iso(), time.monotonic()
    level = choose_isolation(isolation)
    settings = lab_settings(lab_dir)
    preload = preload or ",".join(settings.get("preload", ["numpy"]))
    threads = threads if threads is not None else int(settings.get("threads", 1))
    common = {"submission_id": submission_id, "lab": lab_dir.name, "isolation": level,
              "grader_version": GRADER_VERSION, "started_at": started}
    manual = manual_rows(lab_dir)
    try:
        files = read_submission_files(submission)
    except ValueError as exc:
        result = SubmissionResult.from_error(error=str(exc), tests=manual, **common)
    else:
        digest = content_hash(files)
        try:
            require_unprivileged_workers(SandboxSpec(lab_dir=lab_dir, isolation=level))
            run = run_hidden_tests(lab_dir, submission, level, preload, threads)
        except RuntimeError as exc:
            result = SubmissionResult.from_error(error=f"grader failure: {exc}", tests=manual,
                                                 content_hash=digest, **common)
        else:
            common["isolation"] = run.isolation
            result = SubmissionResult(tests=run.tests + manual, content_hash=digest,
                                      execution_time=time.monotonic() - clock,
                                      output=run.notes, **common)
    if out_dir is not None:
        write_outputs(result, Path(out_dir))
    return result


def write_outputs(result: SubmissionResult, out_dir: Path) -> None:
    """``results.json`` (Gradescope), ``feedback.md`` and ``result.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results_json(result, out_dir / "results.json")
    write_feedback(result, out_dir / "feedback.md")
    result.write_json(out_dir / RESULT_FILE)
