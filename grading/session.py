"""One submission's workers during a test run: a warm spare, restarts after crashes.

``WorkerPool`` keeps one worker started ahead of time, so the next test module (or the next
submission) does not wait for Python and numpy/torch to import. ``SubmissionSession`` owns the
worker of one test module and loads the submission into it, starting a fresh worker after a
crash or a timeout so that one bad call fails one test, not the rest.
"""

from __future__ import annotations

import time
from pathlib import Path

from grading.rpc.budget import TimeBudget
from grading.rpc.client import WorkerClient
from grading.rpc.errors import SandboxError
from grading.rpc.proxy import RemoteObject
from grading.sandbox.launcher import SandboxSpec, WorkerProcess

MAX_SUBMISSION_BYTES = 50 << 20
MAX_SUBMISSION_FILES = 200


class WorkerPool:
    """Hands out ready workers for ``spec``, starting the next one while the current one works."""

    def __init__(self, spec: SandboxSpec, spares: int = 1):
        self.spec = spec
        self.spares = spares
        self._spare: WorkerClient | None = None
        self.started = 0

    def _launch(self) -> WorkerClient:
        self.started += 1
        return WorkerClient(WorkerProcess(self.spec).start())

    def acquire(self) -> WorkerClient:
        """A worker that has finished its imports (raises WorkerDied if it cannot start)."""
        client, self._spare = self._spare, None
        if client is None or not client.alive:
            if client is not None:
                client.close()
            client = self._launch()
        try:
            if self.spares:
                self._spare = self._launch()
            client.wait_ready()
        except BaseException:
            client.close()
            raise
        return client

    def close(self) -> None:
        if self._spare is not None:
            self._spare.close()
            self._spare = None


def read_submission_files(path: Path) -> dict[str, bytes]:
    """The files of a submission: a ``.py`` file, or a folder (its files, recursively; when
    they all sit in one subfolder holding ``submission.py``, relative to that subfolder).

    Raises ValueError with what was found and what is expected when there is no
    ``submission.py`` or the submission is too large to be a lab submission.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() != ".py":
            raise ValueError(f"a submission file must be a .py file; received {path.name}.")
        return {"submission.py": path.read_bytes()}
    if not path.is_dir():
        raise ValueError(f"no submission at {path}: expected a folder holding submission.py "
                         "or a .py file.")
    files: dict[str, bytes] = {}
    total = 0
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
        parts = file.relative_to(path).parts
        if "__pycache__" in parts or any(part.startswith(".") for part in parts):
            continue  # caches, and hidden files or folders at any depth (.git, .DS_Store, ...)
        rel = "/".join(parts)
        total += file.stat().st_size
        if total > MAX_SUBMISSION_BYTES or len(files) >= MAX_SUBMISSION_FILES:
            raise ValueError(f"the submission at {path} is larger than {MAX_SUBMISSION_BYTES >> 20}"
                             f" MB or {MAX_SUBMISSION_FILES} files; submit submission.py and the "
                             "files the lab asks for only.")
        files[rel] = file.read_bytes()
    tops = {rel.split("/")[0] for rel in files}
    if "submission.py" not in files and len(tops) == 1 and f"{min(tops)}/submission.py" in files:
        # everything in one folder (a zipped folder, uploaded as it is): grade that folder
        files = {rel.split("/", 1)[1]: data for rel, data in files.items()}
    if "submission.py" not in files:
        found = ", ".join(sorted(files)[:10]) or "nothing"
        raise ValueError(f"no submission.py in {path} (found: {found}). The file to submit is "
                         "named submission.py.")
    return files


class ImportOutcome:
    """How importing one submission went, shared by the sessions of one grading run: an import
    that failed (a syntax error, or one that ran out of time) fails the same way in every test
    module, so it is tried once and its error reused."""

    def __init__(self) -> None:
        self.error: SandboxError | None = None


class SubmissionSession:
    """The submission loaded in a worker, restarted on demand after a failure."""

    def __init__(self, pool: WorkerPool, files: dict[str, bytes],
                 imports: ImportOutcome | None = None):
        self.pool = pool
        self.files = files
        self.client: WorkerClient | None = None
        self._module: RemoteObject | None = None
        self._imports = imports if imports is not None else ImportOutcome()
        self.restarts = 0
        self.budget: TimeBudget | None = None

    @property
    def isolation(self) -> str:
        return self.client.isolation if self.client else self.pool.spec.isolation

    def module(self) -> RemoteObject:
        """The student's module in a live worker (raises the import error, if importing failed).

        Starting a worker and importing the submission are not charged to the current test's
        time limit: they happen in whichever test comes first (or follows a crash), and a
        timeout while importing is kept as the import error of every test.
        """
        if self._imports.error is not None:
            raise self._imports.error.with_traceback(None)  # not growing with every test
        if self.client is not None and not self.client.alive:
            self.client.close()
            self.client, self._module = None, None
            self.restarts += 1
        if self._module is not None:
            return self._module
        started = time.monotonic()
        try:
            if self.client is None:
                self.client = self.pool.acquire()
            self.client.budget = None  # the import has call_timeout_s of its own
            try:
                self._module = self.client.load_submission(self.files)
            except SandboxError as exc:  # it would fail the same way in every test
                self._imports.error = exc
                raise
        finally:
            if self.budget is not None:
                self.budget.pause(time.monotonic() - started)
            if self.client is not None:
                self.client.budget = self.budget
        return self._module

    def fixed(self, name: str) -> RemoteObject:
        """One of the lab's fixed modules (``train``, ``model``), imported in the same worker as
        the submission (so its ``import submission`` gets the student's module).

        It runs in the sandbox, where the submission may have patched it: what it returns is
        the student's, never evidence that the lab's own pipeline ran. A check that needs the
        fixed pipeline drives it from the grader's side, calling only the student's functions.
        """
        self.module()
        return self.client.import_module(name)

    def set_time_limit(self, seconds: float | None) -> None:
        """Give the current test ``seconds`` of sandbox CPU time in all, with the wall-clock
        backstop of :mod:`grading.rpc.budget` (None: no test limit)."""
        self.budget = None if seconds is None else TimeBudget.start(seconds)
        if self.client is not None:
            self.client.budget = self.budget

    def take_output(self) -> str:
        return self.client.take_output() if self.client is not None else ""

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client, self._module = None, None


class LiveModule:
    """What tests receive as ``submission``: attribute access on the student's module.

    ``submission.GMM`` always reaches the module in the session's *current* worker, so a test
    that follows a crash gets a fresh worker transparently.
    """

    def __init__(self, session: SubmissionSession):
        object.__setattr__(self, "_session", session)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self._session.module(), name)

    def __setattr__(self, name: str, value) -> None:
        """``submission.N = 3`` sets the attribute of the student's module in the sandbox
        (not of this stand-in, where it would hide the module's own value)."""
        setattr(self._session.module(), name, value)

    def __repr__(self) -> str:
        return "<student submission (remote)>"
