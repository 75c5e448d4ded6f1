"""The grader's pytest plugin: fixtures, markers and one ``TestResult`` per test.

Hidden tests (``lab_x/instructor/hidden_tests``) and public tests (``lab_x/tests``) are ordinary
pytest functions that run in the trusted grader process and receive the student's module as the
``submission`` fixture: a proxy whose calls run in the sandboxed worker.

Markers::

    @pytest.mark.points(10)                 all or nothing, unless the test uses ``credit``
    @pytest.mark.visibility("hidden")       visible | after_due_date | after_published | hidden
    @pytest.mark.time_limit(30)             seconds of sandbox CPU time for the whole test (default
                                            60), with a wall-clock backstop (grading.rpc.budget)
    @pytest.mark.hint("Work in log space")  shown to the student when the test loses points
    @pytest.mark.slow_hint("A loop over samples in the E-step")   shown instead of the hint
                                            when a call ran out of time: what makes it slow

Fixtures: ``submission``, ``credit`` (partial credit from the lab's rubric, and what to tell the
student), ``rubric``, ``submission_files``, ``fixed`` (``fixed("train")``: a fixed module of the
lab in the same worker), ``sandbox_client`` (the current worker client), ``sandbox_cpu`` (a
stopwatch of the sandbox's CPU time, for speed checks).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grading.report.result import TestResult, atomic_write_text
from grading.rpc.budget import WALL_FACTOR
from grading.rpc.errors import CallTimeout, SandboxError, StudentError
from grading.sandbox.launcher import SandboxRefused, SandboxSpec, require_unprivileged_workers
from grading.sandbox.limits import SandboxLimits
from grading.scoring import Rubric, load_rubric
from grading.session import (
    ImportOutcome,
    LiveModule,
    SubmissionSession,
    WorkerPool,
    read_submission_files,
)

DEFAULT_TIME_LIMIT_S = 60.0
GRADER_MARGIN_S = 60.0  # the grader's own work in a test, beyond the sandbox's wall backstop
NOT_IMPORTED = "not run: submission.py does not import (the note at the top says why)"
MARKERS = (
    "points(n): points of the test, all or nothing unless it records partial credit",
    "visibility(level): visible, after_due_date, after_published or hidden",
    "time_limit(seconds): CPU seconds of the sandbox for the whole test, all calls included",
    "hint(text): advice shown to the student when the test loses points",
    "slow_hint(text): what usually makes this test's calls slow in this lab, shown instead of the "
    "hint when a call ran out of time",
)


VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


def _is_number(value, *, positive: bool) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and (value > 0 if positive else value >= 0))


def marker_problems(item: pytest.Item) -> list[str]:
    """What is wrong with the grading markers of ``item`` (empty when they are valid)."""
    rules = {"points": ("a number >= 0, e.g. @pytest.mark.points(5)",
                        lambda v: _is_number(v, positive=False)),
             "time_limit": ("a number of seconds > 0, e.g. @pytest.mark.time_limit(30)",
                            lambda v: _is_number(v, positive=True)),
             "visibility": (f"one of {', '.join(VISIBILITIES)}", lambda v: v in VISIBILITIES),
             "hint": ("a non-empty string", lambda v: isinstance(v, str) and v.strip() != ""),
             "slow_hint": ("a non-empty string",
                           lambda v: isinstance(v, str) and v.strip() != "")}
    problems = []
    for name, (expected, valid) in rules.items():
        marker = item.get_closest_marker(name)
        if marker is None:
            continue
        if len(marker.args) != 1 or marker.kwargs or not valid(marker.args[0]):
            problems.append(f"@pytest.mark.{name} takes {expected}; received "
                            f"args {marker.args!r}, kwargs {marker.kwargs!r}")
    return problems


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to grade with invalid markers: one clear error for the instructor, before any
    student code runs, instead of a crash in the middle of every submission."""
    problems = [f"{item.nodeid}: {problem}" for item in items for problem in marker_problems(item)]
    if problems:
        raise pytest.UsageError("the hidden tests have invalid grading markers (fix them, then "
                                "grade again):\n  " + "\n  ".join(problems))


def find_lab_dir(start: Path) -> Path:
    """The lab folder above a test file: the first ancestor holding ``submission.py`` or
    ``instructor/``."""
    for folder in [start, *start.parents]:
        if (folder / "submission.py").is_file() or (folder / "instructor").is_dir():
            return folder
    raise ValueError(f"no lab folder above {start}: pass --lab-dir.")


@dataclass
class GradingRun:
    """State of one pytest run over one submission."""

    submission: Path | None
    lab_dir: Path | None
    isolation: str
    preload: tuple[str, ...]
    threads: int
    results: list[TestResult] = field(default_factory=list)
    pools: dict[Path, WorkerPool] = field(default_factory=dict)
    current: SubmissionSession | None = None
    isolation_used: str | None = None
    imports: ImportOutcome = field(default_factory=ImportOutcome)
    notes: str = ""  # for the top of the feedback: why the submission does not import

    def pool_for(self, lab_dir: Path) -> WorkerPool:
        if lab_dir not in self.pools:
            limits = SandboxLimits(threads=self.threads)
            spec = SandboxSpec(lab_dir=lab_dir, limits=limits, preload=self.preload,
                               isolation=self.isolation)
            try:
                require_unprivileged_workers(spec)
            except SandboxRefused as exc:
                pytest.exit(f"error: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
            self.pools[lab_dir] = WorkerPool(spec)
        return self.pools[lab_dir]

    def close(self) -> None:
        if self.current is not None:  # a run interrupted inside a module (Ctrl-C)
            self.current.close()
            self.current = None
        for pool in self.pools.values():
            pool.close()


RUN_KEY = pytest.StashKey[GradingRun]()
CREDIT_KEY = pytest.StashKey["Credit"]()
START_KEY = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grading", "course-lab grader")
    group.addoption("--submission", default=None,
                    help="submission to test: a folder holding submission.py, or a .py file "
                         "(default: the lab's own submission.py)")
    group.addoption("--lab-dir", default=None, help="the lab folder (default: found above tests)")
    group.addoption("--isolation", default="auto", choices=["auto", "bwrap", "process"],
                    help="sandbox level for student code (default: the strongest available)")
    group.addoption("--preload", default="numpy",
                    help="comma-separated modules each worker imports before student code")
    group.addoption("--worker-threads", type=int, default=1,
                    help="CPU threads (BLAS, torch) each sandboxed worker may use")
    group.addoption("--grading-json", default=None,
                    help="write the per-test results as JSON to this file")


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    opt = config.option
    config.stash[RUN_KEY] = GradingRun(
        submission=Path(opt.submission) if opt.submission else None,
        lab_dir=Path(opt.lab_dir).resolve() if opt.lab_dir else None,
        isolation=opt.isolation,
        preload=tuple(m for m in opt.preload.split(",") if m),
        threads=opt.worker_threads,
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    run.close()
    if config.option.grading_json:
        payload = {"isolation": run.isolation_used or run.isolation, "notes": run.notes,
                   "tests": [t.to_dict() for t in run.results]}
        atomic_write_text(config.option.grading_json, json.dumps(payload, indent=1))


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab_dir(request: pytest.FixtureRequest) -> Path:
    run = request.config.stash[RUN_KEY]
    return run.lab_dir or find_lab_dir(Path(request.path).resolve().parent)


@pytest.fixture(scope="module")
def submission_files(request: pytest.FixtureRequest, lab_dir: Path) -> dict[str, bytes]:
    """The submission's files by relative path (``submission.py`` and what the lab asks for)."""
    run = request.config.stash[RUN_KEY]
    return read_submission_files(run.submission or lab_dir / "submission.py")


@pytest.fixture(scope="module")
def submission(request: pytest.FixtureRequest, lab_dir: Path, submission_files):
    """The student's module; attribute access and calls run in a sandboxed worker."""
    run = request.config.stash[RUN_KEY]
    session = SubmissionSession(run.pool_for(lab_dir), submission_files, run.imports)
    run.current = session
    yield LiveModule(session)
    session.close()
    run.current = None


@pytest.fixture
def sandbox_client(submission):
    """The live worker client behind ``submission`` (started on first use)."""
    session = object.__getattribute__(submission, "_session")
    session.module()
    return session.client


class CpuStopwatch:
    """``with sandbox_cpu() as used: model._e_step(X)``, then ``used.seconds``: the CPU seconds
    the sandbox spent inside the block, in every process and thread it ran.

    The measure of speed checks: the machine's load does not change it, the sandbox is paused
    between calls (so nothing it leaves running can slow the grader's reference timing), and a
    CPU burner the submission starts adds to its own time.
    """

    def __init__(self, session: SubmissionSession):
        self.session = session
        self.seconds = float("nan")

    def __enter__(self) -> CpuStopwatch:
        self.session.module()
        self._client = self.session.client
        self._start = self._client.cpu_seconds()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.session.client is self._client and self._client.alive:
            self.seconds = self._client.cpu_seconds() - self._start


@pytest.fixture
def sandbox_cpu(submission):
    """A :class:`CpuStopwatch` factory for the submission's sandbox."""
    session = object.__getattribute__(submission, "_session")
    return lambda: CpuStopwatch(session)


@pytest.fixture
def fixed(submission):
    """``fixed("train")``: a fixed module of the lab, imported in the submission's worker."""
    session = object.__getattribute__(submission, "_session")
    return session.fixed


@pytest.fixture(scope="session", autouse=True)
def one_grader_thread():
    """The grader's own torch work (a lab's tests that use torch) on one thread: on a small
    machine a second thread spins against the sandboxed worker, which computes on one."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def rubric(lab_dir: Path) -> Rubric:
    """The lab's ``instructor/rubric.json``: floors, targets and points of performance checks."""
    return load_rubric(lab_dir / "instructor" / "rubric.json")


class Credit:
    """Partial credit and feedback details recorded by a test.

    ``credit.partial("accuracy", 0.71, rubric)`` awards the fraction of the test's points that
    the rubric's floor/target give for the metric; ``credit.explain(expected=..., received=...,
    hint=...)`` says what the student should read when the test loses points;
    ``credit.pending(note)`` hands the test's points to a TA (see :meth:`pending`).
    """

    def __init__(self) -> None:
        self.pending_note: str | None = None
        self.fraction: float | None = None
        self.expected: str | None = None
        self.received: str | None = None
        self.hint: str | None = None

    def partial(self, name: str, metric: float, rubric: Rubric) -> float:
        if name not in rubric:
            raise KeyError(f"rubric has no threshold {name!r}; it has {sorted(rubric)}")
        threshold = rubric[name]
        self.fraction = threshold.credit(metric) / threshold.points if threshold.points else 0.0
        direction = ">=" if threshold.higher_is_better else "<="
        self.expected = (f"{name} {direction} {threshold.target:g} for full credit "
                         f"(no credit at {threshold.floor:g})")
        self.received = f"{name} = {metric:.4g}" if math.isfinite(metric) else f"{name} = {metric}"
        return self.fraction

    def pending(self, note: str) -> None:
        """Leave this test's points to be graded by hand (a pending row, as the rubric's written
        questions): for an answer the submission gives in a form the grader cannot read, such
        as one written in a report instead of a file. ``note`` says why and what the TA checks;
        the student sees it too, so it never holds an expected value. The test then returns."""
        if not isinstance(note, str) or not note.strip():
            raise ValueError(f"credit.pending takes a non-empty note; received {note!r}")
        self.pending_note = note

    def explain(self, expected: str | None = None, received: str | None = None,
                hint: str | None = None) -> None:
        self.expected = expected if expected is not None else self.expected
        self.received = received if received is not None else self.received
        self.hint = hint if hint is not None else self.hint


@pytest.fixture
def credit(request: pytest.FixtureRequest) -> Credit:
    return request.node.stash.setdefault(CREDIT_KEY, Credit())


# -- per-test bookkeeping -----------------------------------------------------------------------
class GraderTimeout(Exception):
    """The grader's own work in a test (its checks of what the submission returned) ran past
    the test's wall-clock backstop plus ``GRADER_MARGIN_S``."""


@contextlib.contextmanager
def grader_deadline(seconds: float):
    """Raise :class:`GraderTimeout` in this (main) thread after ``seconds``: the grader side of
    a test is bounded too. Does nothing where SIGALRM is someone else's (pytest-timeout)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL):
        yield
        return

    def expire(signum, frame):
        raise GraderTimeout(f"the grader's checks of this test ran past {seconds:.0f} s")

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    run = item.config.stash[RUN_KEY]
    marker = item.get_closest_marker("time_limit")
    seconds = float(marker.args[0]) if marker else DEFAULT_TIME_LIMIT_S
    if run.current is not None:
        run.current.set_time_limit(seconds)
    try:
        with grader_deadline(seconds * WALL_FACTOR + GRADER_MARGIN_S):
            return (yield)
    finally:
        if run.current is not None:
            run.current.set_time_limit(None)


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[START_KEY] = time.monotonic()


def _marker_arg(item: pytest.Item, name: str, default):
    marker = item.get_closest_marker(name)
    return marker.args[0] if marker and marker.args else default


def _test_name(item: pytest.Item) -> str:
    doc = (getattr(item, "obj", None).__doc__ or "").strip() if hasattr(item, "obj") else ""
    title = doc.splitlines()[0].strip().rstrip(".") if doc else item.originalname
    callspec = getattr(item, "callspec", None)
    return f"{title} [{callspec.id}]" if callspec else title


def _unique_name(name: str, item: pytest.Item, taken: set[str]) -> str:
    """``name``, or ``name (file)``, ``name (file::test)``, ``name (file::test) #2``, ...: the
    first one no earlier test has (test names are columns of the gradebook)."""
    where = f"{item.path.stem}::{getattr(item, 'originalname', item.name)}"
    candidates = [name, f"{name} ({item.path.stem})", f"{name} ({where})"]
    candidates += (f"{name} ({where}) #{n}" for n in range(2, len(taken) + 3))
    return next(c for c in candidates if c not in taken)


def student_message(exc: AssertionError) -> str:
    """An assertion's message without pytest's rewrite explanation (``assert ...``, ``+ where``
    lines), which speaks of the test's code rather than of the student's result."""
    text = str(exc).strip()
    message, sep, _ = text.partition("\nassert ")
    if sep and message.strip():
        return message.strip()
    return "" if text.startswith("assert ") and "\n" in text else text


def _explain_failure(exc: BaseException) -> tuple[str, str | None, str]:
    """(reason, received, extra output) for an exception raised inside a test.

    The extra output of a sandbox failure is what the student's code printed up to it (the
    failing call took it from the worker), then the traceback.
    """
    if isinstance(exc, StudentError):
        return exc.reason, None, "\n".join(part for part in (exc.stdout, exc.traceback) if part)
    if isinstance(exc, SandboxError):
        return exc.reason, None, getattr(exc, "stdout", "")
    if isinstance(exc, AssertionError):
        return "wrong result", (student_message(exc)[:2000] or None), ""
    if isinstance(exc, GraderTimeout | MemoryError):
        return (f"the grader could not check what your code returned within its own limits "
                f"({exc or type(exc).__name__}): return arrays of the documented shapes", None, "")
    return (f"the check could not use what your code returned "
            f"({type(exc).__name__}: {str(exc)[:300]})", None, "")


def _hint(item: pytest.Item, credit: Credit | None, exc: BaseException | None) -> str | None:
    """The advice for a test that lost points: for a call cut by its time limit, what usually
    makes it slow (``slow_hint``); else the test's own (``credit.explain(hint=...)``, ``hint``)."""
    if isinstance(exc, CallTimeout) and item.get_closest_marker("slow_hint") is not None:
        return _marker_arg(item, "slow_hint", None)
    return credit.hint if credit and credit.hint else _marker_arg(item, "hint", None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    run = item.config.stash[RUN_KEY]
    failed_setup = call.when == "setup" and report.failed
    if not (call.when == "call" or failed_setup) or report.skipped:
        return report
    points = float(_marker_arg(item, "points", 0.0))
    credit = item.stash.get(CREDIT_KEY, None)
    session = run.current
    output = session.take_output() if session is not None else ""
    if session is not None and session.client is not None:
        run.isolation_used = session.client.isolation
    reason = received = None
    if report.passed:
        fraction = credit.fraction if credit and credit.fraction is not None else 1.0
        score = points * min(max(fraction, 0.0), 1.0)
        if score < points:
            reason = "partial credit: the result is below the full-credit target"
    elif run.imports.error is not None and call.excinfo.value is run.imports.error:
        score = 0.0
        if not run.notes:  # the import error once, at the top, instead of in every test
            reason, _, extra = _explain_failure(call.excinfo.value)
            run.notes = "\n".join(part for part in (
                f"submission.py does not import, so no test that uses it could run: {reason}",
                extra, output) if part)
        reason, output = NOT_IMPORTED, ""
    else:
        score = 0.0
        reason, received, extra = _explain_failure(call.excinfo.value)
        output = "\n".join(part for part in (extra, output) if part)
    if not report.passed and isinstance(call.excinfo.value, SandboxError):
        # what the student reads under pytest: their own traceback and output, not ours
        report.longrepr = "\n\n".join(part for part in (reason, output) if part)
    elif not report.passed and output:
        report.sections.append(("output of your code", output))
    elif output and item.config.getoption("capture", "fd") == "no":
        print(f"\n[output of your code]\n{output}", flush=True)
    name = _unique_name(_test_name(item), item, {t.name for t in run.results})
    if report.passed and credit is not None and credit.pending_note is not None:
        run.results.append(TestResult(
            name=f"{name} (graded by hand)", max_score=points, status="pending", kind="manual",
            visibility=_marker_arg(item, "visibility", "visible"),
            output="\n".join(part for part in (credit.pending_note, output) if part),
            duration_s=time.monotonic() - item.stash.get(START_KEY, time.monotonic())))
        return report
    run.results.append(TestResult(
        name=name,
        max_score=points,
        score=score,
        status="passed" if report.passed and score >= points else "failed",
        visibility=_marker_arg(item, "visibility", "visible"),
        output=output,
        duration_s=time.monotonic() - item.stash.get(START_KEY, time.monotonic()),
        expected=credit.expected if credit else None,
        received=(credit.received if credit and credit.received else received),
        hint=_hint(item, credit, call.excinfo.value if call.excinfo else None)
        if score < points else None,
        reason=reason,
        kind="performance" if credit and credit.fraction is not None else "auto",
    ))
    return report
