"""Grading a whole class: ``python -m grading grade --lab LAB --submissions DIR --out DIR``.

Each submission is graded by its own ``python -m grading grade-one`` process (a crash or a hang
there costs one row, never the batch), ``workers`` at a time, each with its share of the CPU
threads. Results are cached by (submission content, lab fingerprint, grader version), so a batch
that was killed and started again grades only what is missing and writes the same gradebook.

What counts as a submission (``discover``) is judged with ``lstat`` only, so nothing is
followed or opened while looking:

* a folder, a regular ``.py`` file or a regular ``.zip`` file is graded;
* anything else is *skipped with a reason*: other files, symbolic links (never followed),
  FIFOs, sockets and devices (never opened), hidden entries whose name starts with ``.``
  (``.DS_Store``, ``.git``, ``._alice.zip``: rename one without the dot to grade it), and an
  entry with the same student id as an earlier one in name order (``alice.py`` beside the
  folder ``alice``; ``Zoë`` spelt NFD beside ``Zoë`` spelt NFC).
  Skipped entries are named on the terminal and listed in ``OUT/skipped.csv`` (columns
  ``entry``, ``reason``) and ``OUT/summary/summary.md``; they get no row in ``grades.csv``.

The student id (``student_id`` in ``grades.csv``, ``submission_id`` in the results) is the
entry's own name without ``.py`` / ``.zip``, letters of every script kept; only characters
that cannot be shown (control characters, bytes that are not UTF-8) become backslash escapes.
Per-student outputs go to ``OUT/submissions/<folder>``: the id itself when it is a plain short
name (letters, digits, ``._@+-``, not starting with ``.`` or ``-``), else a readable slug, ``~``
and a hash of the exact id (``Müller Zoë`` -> ``Müller_Zoë~<12 hex digits>``). Plain names never
contain ``~``, so two ids never share a folder; the name depends on the id alone (hashed too
where two ids differ only by case, for file systems that ignore case), so a resumed batch
finds the same folders.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import io
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import unicodedata
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from common.progress import progress
from common.threads import THREAD_ENV_VARS, cores_per_worker, thread_env
from grading import GRADER_VERSION
from grading.grade_one import RESULT_FILE, content_hash, manual_rows, write_outputs
from grading.report.result import SubmissionResult, now_iso
from grading.sandbox.launcher import SandboxSpec, choose_isolation, require_unprivileged_workers
from grading.session import MAX_SUBMISSION_BYTES, MAX_SUBMISSION_FILES, read_submission_files

SUBMISSION_TIMEOUT_S = 30 * 60
SUBMISSION_SUFFIXES = (".py", ".zip")
MAX_FOLDER_BYTES = 120  # an output folder's name: far below the 255-byte limit of file names
FOLDER_HASH_CHARS = 12
_NOT_FOLDER_CHARS = re.compile(r"[^\w.@+-]")  # \w: letters and digits of every script, and _
_UNSHOWABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # unicodedata categories
_SPECIAL_FILES = {stat.S_IFIFO: "FIFO (named pipe)", stat.S_IFSOCK: "socket",
                  stat.S_IFCHR: "character device", stat.S_IFBLK: "block device"}
HIDDEN_REASON = ("hidden entry (its name starts with '.'), not graded; to grade it, rename it "
                 "without the leading dot")


@dataclass(frozen=True)
class Submission:
    """One student's submission as found in the submissions folder.

    ``folder`` names its output folder under ``OUT/submissions`` (default:
    ``folder_name(student_id)``).
    """

    student_id: str
    path: Path  # a folder with submission.py, a .py file, or a .zip
    folder: str = ""

    def __post_init__(self) -> None:
        if not self.student_id.strip():
            raise ValueError(f"a student id must not be blank; received {self.student_id!r} "
                             f"for {self.path}: rename the entry.")
        if not self.folder:
            object.__setattr__(self, "folder", folder_name(self.student_id))


@dataclass(frozen=True)
class Skipped:
    """An entry of the submissions folder that is not graded, and why (told to the TA)."""

    entry: str  # its name, as ``shown_name`` writes it
    reason: str


@dataclass
class Outcome:
    """What grading one submission produced."""

    result: SubmissionResult
    from_cache: bool
    seconds: float


def shown_name(name: str) -> str:
    """``name`` as it can be shown and written to CSV, JSON or a terminal: every letter kept,
    characters that cannot be shown (control and format characters, line separators, bytes
    that are not UTF-8) written as backslash escapes (``\\n``, ``\\u202e``, ``\\xff``)."""
    chars = []
    for char in name:
        if "\udc80" <= char <= "\udcff":  # a byte that was not UTF-8 (os.fsdecode's escape)
            chars.append(f"\\x{ord(char) - 0xdc00:02x}")
        elif unicodedata.category(char) in _UNSHOWABLE:
            chars.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            chars.append(char)
    return "".join(chars)


def id_of_entry(name: str) -> str:
    """The student id of the entry ``name``: the name without ``.py`` / ``.zip`` (when something
    is left), through ``shown_name``."""
    stem, suffix = os.path.splitext(name)
    return shown_name(stem if suffix.lower() in SUBMISSION_SUFFIXES and stem.strip() else name)


def folder_name(student_id: str, hashed: bool = False) -> str:
    """The output folder of ``student_id``: the id itself when it is a plain name (letters,
    digits, ``._@+-``, not starting with ``.`` or ``-``) of at most ``MAX_FOLDER_BYTES`` bytes;
    else (or when ``hashed``) a readable slug, ``~`` and a hash of the exact id. Plain names
    never contain ``~``, so distinct ids never share a folder."""
    slug = _NOT_FOLDER_CHARS.sub("_", unicodedata.normalize("NFC", student_id))
    slug = slug.lstrip(".-").rstrip(".")
    if slug == student_id and not hashed and len(slug.encode()) <= MAX_FOLDER_BYTES:
        return slug
    digest = hashlib.sha256(student_id.encode("utf-8", "surrogatepass")).hexdigest()
    room = MAX_FOLDER_BYTES - FOLDER_HASH_CHARS - 1
    slug = slug.encode()[:room].decode("utf-8", "ignore").rstrip(".") or "student"
    return f"{slug}~{digest[:FOLDER_HASH_CHARS]}"


def entry_kind(path: Path) -> tuple[str | None, str]:
    """``("folder" | "py" | "zip", "")`` for an entry that can be graded, else ``(None, why)``.

    Looks with ``lstat`` only: a link is never followed, a FIFO or a device never opened.
    """
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        return None, f"cannot be examined ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "folder", ""
    if stat.S_ISREG(mode):
        if path.suffix.lower() in SUBMISSION_SUFFIXES:  # Alice.PY and Bob.ZIP too
            return path.suffix[1:].lower(), ""
        return None, ("a file that is not .py or .zip: expected one folder, .py or .zip file "
                      "per student")
    if stat.S_ISLNK(mode):
        try:
            target = shown_name(os.readlink(path))
        except OSError:
            target = "?"
        return None, (f"a symbolic link (to {target}), never followed: put the submission "
                      "itself in the folder")
    kind = _SPECIAL_FILES.get(stat.S_IFMT(mode), "special file")
    return None, (f"a {kind}, not a regular file or folder: never opened; replace it with the "
                  "student's folder, .py or .zip file")


def _why_skipped(folder: Path, name: str) -> str | None:
    """Why the entry ``name`` of ``folder`` is not graded on its own; None when it is."""
    if name.startswith("."):
        return HIDDEN_REASON
    kind, why = entry_kind(folder / name)
    if kind is None:
        return why
    if not id_of_entry(name).strip():
        return "a blank name cannot be a student id: rename the entry"
    return None


def discover(folder: Path) -> tuple[list[Submission], list[Skipped]]:
    """Submissions in ``folder`` (sub-folders, ``.py`` files, ``.zip`` files) and the entries
    that were skipped, with why (see the module docstring). Sorted by id, so the gradebook
    order is stable; ids are compared after NFC normalisation, the first in name order wins."""
    if not folder.is_dir():
        raise ValueError(f"no submissions folder at {folder}: expected a folder with one "
                         "sub-folder (or .py / .zip file) per student.")
    found: dict[str, Submission] = {}
    skipped: list[Skipped] = []
    for name in sorted(os.listdir(folder)):
        if (why := _why_skipped(folder, name)) is not None:
            skipped.append(Skipped(shown_name(name), why))
            continue
        sid = id_of_entry(name)
        key = unicodedata.normalize("NFC", sid)
        if key in found:
            skipped.append(Skipped(shown_name(name), _clash_reason(sid, found[key])))
            continue
        found[key] = Submission(sid, folder / name)
    return _own_folders(sorted(found.values(), key=lambda s: s.student_id)), skipped


def _clash_reason(student_id: str, first: Submission) -> str:
    """Why an entry with ``student_id`` is skipped when ``first`` has the same id."""
    other = shown_name(first.path.name)
    how = ("ids are entry names without .py/.zip" if student_id == first.student_id else
           "the two names differ only in how accented letters are encoded, Unicode NFC vs "
           "NFD, and would look the same in the gradebook")
    return (f"same student id {student_id!r} as the entry {other!r} ({how}); not graded: "
            "rename one of the two and grade again")


def _own_folders(subs: list[Submission]) -> list[Submission]:
    """``subs``, with hashed output folders for the ids whose plain folders would clash where
    the file system ignores case (``Alice`` and ``alice`` on macOS or Windows)."""
    clashes = Counter(s.folder.casefold() for s in subs)
    return [replace(s, folder=folder_name(s.student_id, hashed=True))
            if clashes[s.folder.casefold()] > 1 else s for s in subs]


def _check_distinct(submissions: list[Submission]) -> None:
    """Refuse a batch where two submissions share an id or an output folder (one result would
    overwrite the other)."""
    for field in ("student_id", "folder"):
        counts = Counter(getattr(s, field) for s in submissions)
        shared = sorted(value for value, n in counts.items() if n > 1)
        if shared:
            raise ValueError(f"{counts[shared[0]]} submissions share the {field} "
                             f"{shared[0]!r}; expected each to have its own (discover() "
                             "reports such entries as skipped): rename one of them.")


def _open_regular(path: Path) -> io.BufferedReader:
    """``path`` opened for reading when it is a regular file; ValueError otherwise (a link, a
    FIFO or a device), without ever blocking or following a link."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ValueError(f"{shown_name(path.name)} cannot be opened ({exc.strerror}); "
                         "expected a regular .zip file.") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"{shown_name(path.name)} is not a regular file; expected a .zip "
                         "archive.")
    return os.fdopen(fd, "rb")


def extract_zip(archive: Path, dest: Path) -> Path:
    """Unpack a submission archive safely into ``dest``; return the folder holding its files.

    Refuses anything but a regular file (a FIFO is never waited on), absolute paths, ``..``,
    links and archives larger than a submission may be. When everything sits in one top-level
    folder, that folder is returned.
    """
    shown = shown_name(archive.name)
    try:
        with _open_regular(archive) as handle, zipfile.ZipFile(handle) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_SUBMISSION_FILES or \
                    sum(m.file_size for m in members) > MAX_SUBMISSION_BYTES:
                raise ValueError(f"{shown} unpacks to more than {MAX_SUBMISSION_FILES} "
                                 f"files or {MAX_SUBMISSION_BYTES >> 20} MB.")
            for member in members:
                name = Path(member.filename)
                mode = member.external_attr >> 16
                if name.is_absolute() or ".." in name.parts or (mode & 0o170000) == 0o120000:
                    raise ValueError(f"{shown} contains an unsafe entry {member.filename!r}"
                                     " (absolute path, '..' or link); re-create the archive.")
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            for member in members:
                target = dest / member.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(member))
    except zipfile.BadZipFile:
        raise ValueError(f"{shown} is not a valid zip archive.") from None
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


def grade_one_command(lab_dir: Path, submission: Path, out: Path, student_id: str,
                      isolation: str, threads: int) -> list[str]:
    """The ``grade-one`` command line for one submission. Every value is joined to its flag
    (``--submission_id=-x``) and paths are absolute, so an id or a file name that starts with
    ``-`` (``-x``, ``--help``) is never read as a flag."""
    return [sys.executable, "-m", "grading", "grade-one", f"--lab={os.path.abspath(lab_dir)}",
            f"--submission={os.path.abspath(submission)}", f"--out={os.path.abspath(out)}",
            f"--submission_id={student_id}", f"--isolation={isolation}", f"--threads={threads}"]


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
        # before any submission: one refusal for the TA, not 300 failed rows
        require_unprivileged_workers(SandboxSpec(lab_dir=lab_dir, isolation=self.isolation))
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
        target = self.out / "submissions" / sub.folder
        try:
            kind, why = entry_kind(sub.path)
            if kind is None:
                raise ValueError(f"{shown_name(sub.path.name)}: {why}")
            path = extract_zip(sub.path, self.staging / sub.folder) if kind == "zip" else sub.path
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
        shutil.rmtree(self.staging / sub.folder, ignore_errors=True)
        return Outcome(result, False, time.monotonic() - start)

    def _error_result(self, sub: Submission, error: str) -> SubmissionResult:
        return SubmissionResult.from_error(
            submission_id=sub.student_id, lab=self.lab_dir.name, error=error,
            isolation=self.isolation, grader_version=GRADER_VERSION, started_at=now_iso(),
            tests=manual_rows(self.lab_dir))

    def _run_grade_one(self, sub: Submission, path: Path, target: Path) -> SubmissionResult:
        (target / RESULT_FILE).unlink(missing_ok=True)
        cmd = grade_one_command(self.lab_dir, path, target, sub.student_id, self.isolation,
                                self.threads)
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
        """Grade all ``submissions`` with ``workers`` in parallel; return outcomes by id.
        ValueError when two of them share an id or an output folder."""
        _check_distinct(submissions)
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
