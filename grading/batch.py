"""Grading a whole class: ``python -m grading grade --lab LAB --submissions DIR --out DIR``.

Each submission is graded by its own ``python -m grading grade-one`` process (a crash or a hang
there costs one row, never the batch), ``workers`` at a time, each with its share of the CPU
threads. Results are cached by (submission content, lab fingerprint, grader version), so a batch
that was killed and started again grades only what is missing and writes the same gradebook.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from common.progress import progress
from common.threads import THREAD_ENV_VARS, cores_per_worker, thread_env
from grading import GRADER_VERSION
from grading.grade_one import RESULT_FILE, content_hash, manual_rows, write_outputs
from grading.report.result import SubmissionResult, now_iso
from grading.sandbox.launcher import SandboxSpec, choose_isolation, process_level_problem
from grading.session import MAX_SUBMISSION_BYTES, MAX_SUBMISSION_FILES, read_submission_files

SUBMISSION_TIMEOUT_S = 30 * 60
_ID_CHARS = re.compile(r"[^A-Za-z0-9._@+-]")


@dataclass(frozen=True)
class Submission:
    """One student's submission as found in the submissions folder."""

    student_id: str
    path: Path  # a folder with submission.py, a .py file, or a .zip


@dataclass
class Outcome:
    """What grading one submission produced."""

    result: SubmissionResult
    from_cache: bool
    seconds: float


def safe_id(name: str) -> str:
    """A student id usable as a folder name: letters, digits and ``._@+-`` only."""
    cleaned = _ID_CHARS.sub("_", name).strip("._") or "unnamed"
    return cleaned[:120]


def discover(folder: Path) -> tuple[list[Submission], list[str]]:
    """Submissions in ``folder`` (sub-folders, ``.py`` files, ``.zip`` files) and the names of
    entries that were skipped, with why. Ids are sorted, so the gradebook order is stable."""
    if not folder.is_dir():
        raise ValueError(f"no submissions folder at {folder}: expected a folder with one "
                         "sub-folder (or .py / .zip file) per student.")
    found: dict[str, Submission] = {}
    skipped: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or entry.suffix in (".py", ".zip"):
            sid = safe_id(entry.stem if entry.is_file() else entry.name)
            if sid in found:
                skipped.append(f"{entry.name}: same student id as {found[sid].path.name}")
                continue
            found[sid] = Submission(sid, entry)
        else:
            skipped.append(f"{entry.name}: not a folder, .py or .zip")
    return [found[k] for k in sorted(found)], skipped


def extract_zip(archive: Path, dest: Path) -> Path:
    """Unpack a submission archive safely into ``dest``; return the folder holding its files.

    Refuses absolute paths, ``..``, links and archives larger than a submission may be. When
    everything sits in one top-level folder, that folder is returned.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_SUBMISSION_FILES or \
                    sum(m.file_size for m in members) > MAX_SUBMISSION_BYTES:
                raise ValueError(f"{archive.name} unpacks to more than {MAX_SUBMISSION_FILES} "
                                 f"files or {MAX_SUBMISSION_BYTES >> 20} MB.")
            for member in members:
                name = Path(member.filename)
                mode = member.external_attr >> 16
                if name.is_absolute() or ".." in name.parts or (mode & 0o170000) == 0o120000:
                    raise ValueError(f"{archive.name} contains an unsafe entry {member.filename!r}"
                                     " (absolute path, '..' or link); re-create the archive.")
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            for member in members:
                target = dest / member.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(member))
    except zipfile.BadZipFile:
        raise ValueError(f"{archive.name} is not a valid zip archive.") from None
    tops = {Path(m.filename).parts[0] for m in members}
    if len(tops) == 1 and (dest / next(iter(tops))).is_dir():
        return dest / next(iter(tops))
    return dest


def lab_fingerprint(lab_dir: Path) -> str:
    """A hash of what grading depends on in the lab: instructor material and fixed files."""
    digest = hashlib.sha256(GRADER_VERSION.encode())
    for path in sorted(p for p in lab_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(lab_dir).as_posix()
        if rel == "submission.py" or "__pycache__" in rel or rel.startswith("results/"):
            continue
        digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the batch process dies (Linux prctl)."""
    os.setsid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class BatchGrader:
    """Grades the submissions of one lab into ``out``; safe to interrupt and run again."""

    def __init__(self, lab_dir: Path, out: Path, workers: int = 1, isolation: str = "auto",
                 timeout_s: float = SUBMISSION_TIMEOUT_S, thread_budget: bool = True):
        """``thread_budget=False`` leaves BLAS/torch thread pools at their defaults (only to
        measure what that costs: on a small machine parallel workers then oversubscribe it)."""
        if workers < 1:
            raise ValueError(f"--workers must be >= 1; received {workers}.")
        self.lab_dir, self.out = lab_dir, out
        self.workers, self.timeout_s = workers, timeout_s
        self.isolation = choose_isolation(isolation)
        if self.isolation == "process":  # a root grader's warning, here once, not per student
            process_level_problem(SandboxSpec(lab_dir=lab_dir))
        self.thread_budget = thread_budget
        self.threads = cores_per_worker(workers) if thread_budget else 0
        self.fingerprint = lab_fingerprint(lab_dir)
        self.cache = out / ".cache" / lab_dir.name
        self.staging = out / ".staging"

    def _cached(self, key: str, student_id: str) -> SubmissionResult | None:
        path = self.cache / f"{key}.json"
        if not path.is_file():
            return None
        try:
            result = SubmissionResult.read_json(path)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a torn or stale entry: grade again
            return None
        result.submission_id = student_id
        return result

    def grade(self, sub: Submission) -> Outcome:
        """Grade one submission (from the cache when its content was graded before); never
        raises: an unusable submission gets an error row saying why."""
        start = time.monotonic()
        target = self.out / "submissions" / sub.student_id
        try:
            path = sub.path
            if path.suffix == ".zip":
                path = extract_zip(path, self.staging / sub.student_id)
            key = f"{content_hash(read_submission_files(path))[:32]}-{self.fingerprint}"
        except (ValueError, OSError) as exc:
            result = self._error_result(sub, str(exc))
            write_outputs(result, target)
            return Outcome(result, False, time.monotonic() - start)
        if (cached := self._cached(key, sub.student_id)) is not None:
            write_outputs(cached, target)
            return Outcome(cached, True, time.monotonic() - start)
        result = self._run_grade_one(sub, path, target)
        if not (result.error or "").startswith("batch:"):  # infrastructure failures are retried
            self.cache.mkdir(parents=True, exist_ok=True)
            result.write_json(self.cache / f"{key}.json")
        shutil.rmtree(self.staging / sub.student_id, ignore_errors=True)
        return Outcome(result, False, time.monotonic() - start)

    def _error_result(self, sub: Submission, error: str) -> SubmissionResult:
        return SubmissionResult.from_error(
            submission_id=sub.student_id, lab=self.lab_dir.name, error=error,
            isolation=self.isolation, grader_version=GRADER_VERSION, started_at=now_iso(),
            tests=manual_rows(self.lab_dir))

    def _run_grade_one(self, sub: Submission, path: Path, target: Path) -> SubmissionResult:
        (target / RESULT_FILE).unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "grading", "grade-one", "--lab", str(self.lab_dir),
               "--submission", str(path), "--out", str(target), "--submission_id",
               sub.student_id, "--isolation", self.isolation, "--threads", str(self.threads)]
        env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV_VARS}
        env.update(thread_env(self.threads) if self.thread_budget else {})
        env["LABS_NO_PROGRESS"] = "1"
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=self.timeout_s, preexec_fn=_die_with_parent)
            failure = None if proc.returncode == 0 else (
                f"batch: grade-one exited with code {proc.returncode}: {proc.stderr[-1500:]}")
        except subprocess.TimeoutExpired:
            failure = f"batch: grading took longer than {self.timeout_s:g} s and was stopped"
        if failure is None:
            try:
                return SubmissionResult.read_json(target / RESULT_FILE)
            except (OSError, ValueError) as exc:
                failure = f"batch: grade-one wrote no readable result ({exc})"
        result = self._error_result(sub, failure)
        write_outputs(result, target)
        return result

    def run(self, submissions: list[Submission], show_progress: bool = True
            ) -> dict[str, Outcome]:
        """Grade all ``submissions`` with ``workers`` in parallel; return outcomes by id."""
        self.out.mkdir(parents=True, exist_ok=True)
        lock = open(self.out / ".lock", "w")  # noqa: SIM115 - held for the whole batch
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another batch is already writing into {self.out}; wait for "
                               "it or choose another --out.") from None
        outcomes: dict[str, Outcome] = {}
        bar = progress(total=len(submissions), desc=f"grading {self.lab_dir.name}",
                       unit="submission") if show_progress else None
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(self.grade, sub): sub for sub in submissions}
            for future in as_completed(futures):
                sub = futures[future]
                outcomes[sub.student_id] = future.result()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"{sub.student_id}: "
                                        f"{outcomes[sub.student_id].result.score:g}")
        if bar is not None:
            bar.close()
        shutil.rmtree(self.staging, ignore_errors=True)
        lock.close()
        return outcomes
