"""The release's leak scanner: instructor material that must never reach the student handout.

``python -m grading release`` builds the handout, then scans every text file of it with three
rules; any hit fails the release and is reported as ``path:line: what (where it came from)``.

1. **Marker text.** ``BEGIN SOLUTION`` or ``END SOLUTION`` anywhere, in any file; only the
   grader's own modules that define the markers (:data:`MARKER_DEFINERS`) may contain them.
2. **Solution-only names** of a lab. A name counts when it is *bound* on a line inside a solution
   region of ``lab_x/instructor/solution.py`` (``def``/``class`` names, assignment, ``for``,
   ``with``, ``except``, walrus and ``import ... as`` targets, parameters of nested functions,
   ``self._private`` attributes), is at least :data:`MIN_NAME_LENGTH` characters long, and looks
   like code rather than a word: it holds an underscore, a digit or an inner capital
   (``_logsumexp_rows``, ``log_resp``, ``nVisible``; never ``shifted`` or ``normalize``). It is
   solution-only when it occurs nowhere in the generated stub, in the shared code or in the other
   labs of the handout (the course's common vocabulary, e.g. ``n_samples`` in ``common/``).
   The lab's own folder and the top-level files are then searched for it as a whole word.
3. **Hidden test names.** The ``test*`` functions and ``Test*`` classes of
   ``lab_x/instructor/hidden_tests/**/*.py`` (whole words) and the first lines of their
   docstrings when at least three words long (case-insensitive; words may be split by any
   whitespace, line breaks and ``#`` of comments included),
   searched in the whole handout. Names and titles that the lab's public tests also use are
   public by definition and skipped.

A name or title listed in ``lab_x/instructor/handout_allow.txt`` (one per line, ``#`` comments)
is never reported. Files holding a NUL byte in their first 8 KiB are binary and not scanned.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grading.solution_markers import find_regions

MARKER_TEXTS = ("BEGIN SOLUTION", "END SOLUTION")
MARKER_DEFINERS = frozenset({"grading/solution_markers.py", "grading/release.py",
                             "grading/leaks.py"})
MIN_NAME_LENGTH = 6
MIN_TITLE_WORDS = 3
ALLOW_FILE = "handout_allow.txt"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMON = frozenset(dir(builtins)) | frozenset(keyword.kwlist)


@dataclass(frozen=True)
class Leak:
    """One piece of instructor material found in the handout."""

    path: str  # relative to the handout root
    line: int
    kind: str  # "marker", "solution name", "hidden test name", "hidden test title"
    text: str
    origin: str = ""  # where the secret comes from, "lab_x/instructor/solution.py:42"

    def __str__(self) -> str:
        where = f" ({self.origin})" if self.origin else ""
        return f"{self.path}:{self.line}: {self.kind} {self.text!r}{where}"


@dataclass
class LabSecrets:
    """What of one lab's instructor folder must not appear in the handout."""

    lab: str
    names: dict[str, str] = field(default_factory=dict)  # solution-only name -> origin
    test_names: dict[str, str] = field(default_factory=dict)  # hidden test name -> origin
    titles: dict[str, str] = field(default_factory=dict)  # hidden docstring title -> origin


def identifiers(text: str) -> set[str]:
    """Every identifier-shaped word of ``text`` (code, comments and prose alike)."""
    return set(_WORD.findall(text))


def looks_like_code(name: str) -> bool:
    """True for names that are not plain words: an underscore, a digit or an inner capital."""
    return "_" in name or any(c.isdigit() for c in name) or any(c.isupper() for c in name[1:])


def _bound(node: ast.AST) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
        return node.attr if node.attr.startswith("_") else None
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.alias):
        return node.asname
    if isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
        return node.name
    return None


def region_names(source: str, filename: str) -> dict[str, int]:
    """Names bound inside the solution regions of ``source`` -> first line binding them.

    Raises MarkerError (bad markers) or SyntaxError (naming ``filename``).
    """
    regions = find_regions(source, filename)
    tree = ast.parse(source, filename=filename)
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if line is None or not any(r.begin < line < r.end for r in regions):
            continue
        name = _bound(node)
        if name and (name not in found or line < found[name]):
            found[name] = line
    return found


def solution_only_names(source: str, filename: str, stub: str,
                        vocabulary: set[str]) -> dict[str, int]:
    """The names of ``source``'s solution regions that the rule 2 above calls solution-only."""
    public = identifiers(stub) | vocabulary | _COMMON
    return {name: line for name, line in region_names(source, filename).items()
            if len(name) >= MIN_NAME_LENGTH and looks_like_code(name) and name not in public}


def _test_docstrings(path: Path) -> Iterable[tuple[str, int, str]]:
    """(name, line, docstring title) of every test function and test class of ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        is_test = (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and node.name.startswith("test")) or (
            isinstance(node, ast.ClassDef) and node.name.startswith("Test"))
        if is_test:
            doc = ast.get_docstring(node) or ""
            title = " ".join(doc.strip().splitlines()[0].split()) if doc.strip() else ""
            yield node.name, node.lineno, title.rstrip(".")


def _test_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py")) if folder.is_dir() else []


def read_allowlist(lab_dir: Path) -> set[str]:
    """The names and titles that ``instructor/handout_allow.txt`` allows in the handout."""
    path = lab_dir / "instructor" / ALLOW_FILE
    if not path.is_file():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def lab_secrets(lab_dir: Path, lab: str, stub: str | None,
                vocabulary: set[str]) -> LabSecrets:
    """The secrets of the lab folder ``lab_dir`` (named ``lab`` in the handout).

    ``stub`` is the generated submission.py (None when the lab has no solution.py yet);
    ``vocabulary`` the identifiers of the handout outside this lab.
    """
    secrets = LabSecrets(lab)
    allowed = read_allowlist(lab_dir)
    solution = lab_dir / "instructor" / "solution.py"
    if stub is not None and solution.is_file():
        rel = f"{lab}/instructor/solution.py"
        names = solution_only_names(solution.read_text(), rel, stub, vocabulary)
        secrets.names = {n: f"bound at {rel}:{line}" for n, line in sorted(names.items())
                         if n not in allowed}
    public_names, public_titles = set(), set()
    for path in _test_files(lab_dir / "tests"):
        for name, _, title in _test_docstrings(path):
            public_names.add(name)
            public_titles.add(title.lower())
    for path in _test_files(lab_dir / "instructor" / "hidden_tests"):
        rel = f"{lab}/{path.relative_to(lab_dir).as_posix()}"
        for name, line, title in _test_docstrings(path):
            if name not in public_names and name not in allowed:
                secrets.test_names.setdefault(name, f"hidden test at {rel}:{line}")
            if (len(title.split()) >= MIN_TITLE_WORDS and title.lower() not in public_titles
                    and title not in allowed):
                secrets.titles.setdefault(title, f"title of hidden test {name} at {rel}:{line}")
    return secrets


def _words_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted(set(words), key=lambda w: (-len(w), w))
    if not words:
        return None
    return re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, words))
                      + r")(?![A-Za-z0-9_])")


def _titles_pattern(titles: Iterable[str]) -> re.Pattern[str] | None:
    parts = [r"\s[\s#]*".join(map(re.escape, t.split())) for t in sorted(set(titles))]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _hits(pattern: re.Pattern[str] | None, text: str) -> Iterable[tuple[int, str]]:
    if pattern is None:
        return
    for match in pattern.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, match.group(0)


def _flat(text: str) -> str:
    """``text`` on one line: comment ``#`` and runs of whitespace become single spaces."""
    return " ".join(text.replace("#", " ").split())


def read_text_files(files: Mapping[str, bytes]) -> dict[str, str]:
    """The text files of a handout (relative path -> text); binary files are left out."""
    return {path: data.decode("utf-8", errors="replace") for path, data in files.items()
            if b"\0" not in data[:8192]}


def find_leaks(texts: Mapping[str, str], secrets: Iterable[LabSecrets]) -> list[Leak]:
    """Every leak of ``secrets`` (and of marker text) in the handout files ``texts``."""
    leaks: list[Leak] = []
    markers = re.compile("|".join(map(re.escape, MARKER_TEXTS)))
    for path, text in texts.items():
        if path not in MARKER_DEFINERS:
            leaks += [Leak(path, line, "marker", hit) for line, hit in _hits(markers, text)]
    for lab in secrets:
        names = _words_pattern(lab.names)
        tests = _words_pattern(lab.test_names)
        titles = _titles_pattern(lab.titles)
        by_title = {_flat(t).lower(): origin for t, origin in lab.titles.items()}
        for path, text in texts.items():
            if path.startswith(f"{lab.lab}/") or "/" not in path:
                leaks += [Leak(path, line, "solution-only name", hit, lab.names[hit])
                          for line, hit in _hits(names, text)]
            leaks += [Leak(path, line, "hidden test name", hit, lab.test_names[hit])
                      for line, hit in _hits(tests, text)]
            leaks += [Leak(path, line, "hidden test title", _flat(hit),
                           by_title[_flat(hit).lower()])
                      for line, hit in _hits(titles, text)]
    return sorted(set(leaks), key=lambda k: (k.path, k.line, k.kind, k.text))
