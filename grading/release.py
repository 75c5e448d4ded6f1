"""``python -m grading release``: build the student handout from this (instructor) repository.

The handout holds the top-level files (README.md and Makefile rewritten for students, see
below), the shared library ``common/``, the grader ``grading/`` (public tests and ``grade.py``
run through it) and each lab folder without its ``instructor/`` folder, with ``submission.py``
generated from ``instructor/solution.py`` by :func:`grading.solution_markers.stub_source`. Labs
without a solution yet ship as they are. Everything else stays behind: ``examples/``, ``tests/``,
``bench/``, ``.ci/`` and any other top-level folder, caches, ``results/``, ``*.egg-info``. In a
git checkout only tracked files ship (their working-tree bytes), so untracked junk never does;
elsewhere every file of those folders does. ``pyproject.toml``'s pytest ``testpaths`` becomes
the labs' ``tests/``.

The instructor README and Makefile talk about ``make demo``, ``make test`` (the project's tests)
and the grader's batch commands, none of which work without the instructor material; the handout
gets its own README (set-up, the labs, the student workflow, the repo README's ``## Data``
section) and Makefile (``setup``, ``test`` = the labs' public tests, ``lint``; ``demo``,
``bench`` and ``release`` exit with a message saying they are instructor commands).

The tree is built in a temporary folder next to ``--out``, scanned for leaks
(:mod:`grading.leaks`), then renamed into place, so a failed release leaves nothing behind.
Building twice gives the same files, bytes and modes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grading.labs import REPO_ROOT, Lab, find_labs
from grading.leaks import (
    MARKER_DEFINERS,
    Leak,
    find_leaks,
    identifiers,
    lab_secrets,
    read_text_files,
)
from grading.solution_markers import MarkerError, stub_source

SHARED_DIRS = ("common", "grading")
EXCLUDED_NAMES = frozenset({"instructor", "__pycache__", ".pytest_cache", ".ruff_cache",
                            ".mypy_cache", ".ipynb_checkpoints", "results", ".git", ".venv",
                            ".DS_Store"})
EXCLUDED_SUFFIXES = (".egg-info", ".pyc", ".pyo")
SYNC_COMMAND = "python -m grading release --sync-stubs"


class ReleaseError(RuntimeError):
    """The handout cannot be built; the message says why and what to do."""


class LeakError(ReleaseError):
    """The built handout contains instructor material."""

    def __init__(self, leaks: Sequence[Leak]):
        self.leaks = list(leaks)
        shown = "\n".join(f"  {leak}" for leak in self.leaks[:50])
        more = f"\n  ... and {len(self.leaks) - 50} more" if len(self.leaks) > 50 else ""
        super().__init__(f"{len(self.leaks)} leak(s) of instructor material in the handout:\n"
                         f"{shown}{more}\nRemove them from the files named (or list a false "
                         "alarm in lab_x/instructor/handout_allow.txt); nothing was released.")


@dataclass
class Handout:
    """What :func:`build_handout` built."""

    out: Path
    labs: list[str]
    files: int
    total_bytes: int
    digest: str  # sha256 over the sorted (path, mode, content) of every file
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        size = f"{self.total_bytes / 1e6:.2f} MB" if self.total_bytes >= 1e5 else \
            f"{self.total_bytes / 1e3:.1f} kB"
        lines = [f"released {', '.join(self.labs) or 'no labs'} to {self.out}",
                 f"{self.files} files, {size} ({self.total_bytes} bytes), "
                 f"sha256 {self.digest[:16]}", "no leaks found"]
        return "\n".join(lines + [f"note: {note}" for note in self.notes])


def excluded(path: str) -> bool:
    """True for paths that never ship, wherever they are: instructor/, caches, results..."""
    return any(part in EXCLUDED_NAMES or part.endswith(EXCLUDED_SUFFIXES)
               for part in path.split("/"))


def _git_files(root: Path, *args: str) -> list[str] | None:
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=True).stdout.strip()
        if Path(top).resolve() != root.resolve():
            return None
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", *args],
                                capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted(p for p in listed.decode().split("\0") if p)


def source_files(root: Path) -> tuple[list[str], list[str]]:
    """(files that may ship, untracked files left out): git's tracked files in a git checkout
    (those still present), else every file under ``root``."""
    tracked = _git_files(root, "--cached")
    if tracked is not None:
        untracked = _git_files(root, "--others", "--exclude-standard") or []
        present = [p for p in tracked if os.path.lexists(root / p)]
        return present, untracked
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not excluded(d))
        rel = Path(folder).relative_to(root)
        found += [(rel / name).as_posix() for name in names]
    return sorted(found), []


def lab_stub(lab_dir: Path, lab: str) -> str | None:
    """The generated submission.py of a lab, or None when it has no instructor/solution.py."""
    solution = lab_dir / "instructor" / "solution.py"
    if not solution.is_file():
        return None
    try:
        return stub_source(solution.read_text(), lab, f"{lab}/instructor/solution.py")
    except MarkerError as exc:
        raise ReleaseError(f"solution markers: {exc}") from None


def _section(markdown: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\s*\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    return f"## {title}\n\n{match.group(1).strip()}\n" if match else ""


def handout_readme(root: Path, labs: Sequence[str]) -> str:
    """The handout's README: set-up, the labs, how to work, and the repo README's Data."""
    repo_readme = (root / "README.md").read_text() if (root / "README.md").is_file() else ""
    title = next((line[2:].strip() for line in repo_readme.splitlines()
                  if line.startswith("# ")), "Course labs")
    rows = []
    for name in labs:
        summary = Lab(name, root / name).summary
        first = summary.split(". ")[0].rstrip(".") + "." if summary else "see its README.md"
        rows.append(f"| `{name}` | {first} |")
    table = "\n".join(["| lab | what you do |", "|---|---|", *rows])
    return f"""# {title}: student handout

```bash
make setup   # creates .venv from requirements.txt (once; a few minutes: torch is large)
make test    # runs the public tests of every lab on your submission.py
```

Everything works offline. In each lab you edit **one file, `submission.py`**: fill in every
region between `# ===== START OF YOUR CODE =====` and `# ===== END OF YOUR CODE =====`; the
docstrings give the shapes. The public tests fail with `NotImplementedError` until you do.

{table}

## How to work on a lab

From the lab folder (each lab's `README.md` lists its tasks, points and what the outputs mean):

```bash
source ../.venv/bin/activate
python load_resources.py          # prepares the data (and pretrained helpers) once
python train.py --help            # every flag has a help text
python visualization.py --help    # pictures of what you trained
python grade.py --help            # public checks + your performance score, as a table
pytest tests                      # the public tests
```

The graded version of the checks runs your code in a sandbox; the public tests run the same way
on your machine (without the sandbox when bubblewrap is not installed). Hand in `submission.py`
(and any file the lab's README asks for).

## Layout

```
common/     the labs' shared library: data loading, artifacts, seeding, plots, checks
grading/    the checker behind the public tests and grade.py (do not edit)
lab_*/      one folder per lab: README.md, submission.py (yours), fixed scripts, tests/
```

{_section(repo_readme, "Data")}""".rstrip() + "\n"


def handout_makefile(test_dirs: Sequence[str]) -> str:
    """The handout's Makefile: setup, the public tests, lint; instructor targets explain."""
    tests = (f"\t$(PY) -m pytest {' '.join(test_dirs)}" if test_dirs
             else '\t@echo "no lab has public tests yet"')
    return f"""# Student handout. `make setup` once, then `make test` (every lab's public tests).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test lint clean-venv demo bench release

## setup: create .venv from requirements.txt
setup: $(STAMP)

$(STAMP): requirements.txt
\t@test -x $(PY) || $(PYTHON) -m venv $(VENV)
\t$(PY) -m pip install --quiet --upgrade pip
\t$(PY) -m pip install --quiet -r requirements.txt
\t$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
\t@touch $(STAMP)

## test: the public tests of every lab, run on your submission.py
test: $(STAMP)
{tests}

lint: $(STAMP)
\t$(PY) -m ruff check .

clean-venv:
\trm -rf $(VENV)

demo bench release:
\t@echo "make $@: an instructor command, not part of the student handout." >&2
\t@echo "Use 'make test', or 'python grade.py' in a lab folder (see README.md)." >&2
\t@exit 2
"""


def plan_handout(root: Path, labs: Sequence[str]) -> tuple[dict[str, tuple[bytes, int]],
                                                           list[str], dict[str, str]]:
    """(relative path -> (bytes, mode), notes, generated stubs by lab) of the handout."""
    files, untracked = source_files(root)
    keep = set(SHARED_DIRS) | set(labs)
    ships = [p for p in files if not excluded(p) and ("/" not in p or p.split("/")[0] in keep)]
    notes, planned = [], {}
    for rel in ships:
        path = root / rel
        if path.is_symlink() or not path.is_file():
            notes.append(f"skipped {rel}: not a plain file")
            continue
        planned[rel] = (path.read_bytes(), 0o755 if path.stat().st_mode & 0o111 else 0o644)
    stubs = {}
    for lab in labs:
        stub = lab_stub(root / lab, lab)
        if stub is None:
            notes.append(f"{lab}: no instructor/solution.py, shipped as it is")
            continue
        stubs[lab] = stub
        committed = root / lab / "submission.py"
        if not committed.is_file() or committed.read_text() != stub:
            state = "differs from" if committed.is_file() else "is missing in the repo; shipped"
            notes.append(f"{lab}/submission.py {state} the generated stub; run "
                         f"`{SYNC_COMMAND}` to update the repo")
        planned[f"{lab}/submission.py"] = (stub.encode(), 0o644)
    test_dirs = sorted({p.split("/")[0] + "/tests" for p in planned
                        if p.split("/")[0] in labs and p.split("/")[1:2] == ["tests"]})
    planned["README.md"] = (handout_readme(root, labs).encode(), 0o644)
    planned["Makefile"] = (handout_makefile(test_dirs).encode(), 0o644)
    if "pyproject.toml" in planned:  # pytest at the top: the labs' tests, not the project's
        text = planned["pyproject.toml"][0].decode()
        text = re.sub(r'(?m)^testpaths\s*=.*$', 'testpaths = ["lab_*/tests"]', text)
        planned["pyproject.toml"] = (text.encode(), planned["pyproject.toml"][1])
    left = [p for p in untracked
            if not excluded(p) and p.split("/")[0] in keep and p not in planned]
    if left:
        shown = ", ".join(left[:8]) + (f" and {len(left) - 8} more" if len(left) > 8 else "")
        notes.append(f"left out {len(left)} untracked file(s) (git add them to ship): {shown}")
    return dict(sorted(planned.items())), notes, stubs


def scan_handout(root: Path, labs: Sequence[str], tree: Path,
                 stubs: dict[str, str]) -> list[Leak]:
    """The leaks in the built handout ``tree`` of the labs ``labs`` of repo ``root``."""
    files = {p.relative_to(tree).as_posix(): p.read_bytes()
             for p in sorted(tree.rglob("*")) if p.is_file()}
    texts = read_text_files(files)
    words: dict[str, set[str]] = {}
    for path, text in texts.items():
        if "/" in path and path not in MARKER_DEFINERS:
            words.setdefault(path.split("/")[0], set()).update(identifiers(text))
    secrets = []
    for lab in labs:
        vocabulary = set().union(*(w for top, w in words.items() if top != lab))
        try:
            secrets.append(lab_secrets(root / lab, lab, stubs.get(lab), vocabulary))
        except SyntaxError as exc:
            raise ReleaseError(f"{exc.filename}:{exc.lineno}: cannot parse: {exc.msg}") from None
    return find_leaks(texts, secrets)


def select_labs(root: Path, labs: Sequence[str] | None) -> list[str]:
    """``labs`` (default: every lab of ``root``) checked to exist, in course order."""
    known = [lab.name for lab in find_labs(root)]
    wanted = known if labs is None else list(dict.fromkeys(labs))
    missing = [lab for lab in wanted if lab not in known and (
        "/" in lab or not ((root / lab / "instructor").is_dir()
                           or (root / lab / "submission.py").is_file()))]
    if missing:
        raise ReleaseError(f"no lab folder {', '.join(missing)} under {root} (a lab folder "
                           f"holds instructor/ or submission.py); the labs there are: "
                           f"{', '.join(known) or 'none'}.")
    order = {name: index for index, name in enumerate(known)}
    return sorted(wanted, key=lambda name: (order.get(name, len(order)), name))


def _check_out(root: Path, out: Path, force: bool, labs: Sequence[str]) -> None:
    if out == root or out in root.parents:
        raise ReleaseError(f"--out {out} would replace the repository itself; pick another "
                           "folder, e.g. --out handout.")
    inside = out.relative_to(root).parts[:1] if root in out.parents else ()
    if set(inside) & (set(SHARED_DIRS) | set(labs)):
        raise ReleaseError(f"--out {out} is inside a folder that ships; pick another folder, "
                           "e.g. --out handout.")
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"--out {out} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ReleaseError(f"--out {out} is not empty; pass --force to replace it.")


def build_handout(root: Path, out: Path, labs: Sequence[str] | None = None,
                  force: bool = False) -> Handout:
    """Build the handout of ``labs`` (lab folder names under ``root``; default: every lab of
    ``root``) into ``out``. Raises ReleaseError (marker errors, leaks, a non-empty ``out``
    without ``force``), leaving ``out`` as it was."""
    root, out = Path(root).resolve(), Path(out).resolve()
    labs = select_labs(root, labs)
    _check_out(root, out, force, labs)
    planned, notes, stubs = plan_handout(root, labs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        digest = hashlib.sha256()
        for rel, (data, mode) in planned.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(mode)
            digest.update(f"{rel}\0{mode:o}\0{hashlib.sha256(data).hexdigest()}\n".encode())
        leaks = scan_handout(root, labs, tmp, stubs)
        if leaks:
            raise LeakError(leaks)
        tmp.chmod(0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / "tree")
            try:
                tmp.rename(out)
            except OSError:
                (old / "tree").rename(out)
                raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = sum(len(data) for data, _ in planned.values())
    return Handout(out, labs, len(planned), total, digest.hexdigest(), notes)


def sync_stubs(root: Path, labs: Sequence[str] | None = None) -> list[Path]:
    """Rewrite ``lab_x/submission.py`` from ``instructor/solution.py``; the files changed."""
    root = Path(root).resolve()
    changed = []
    for lab in select_labs(root, labs):
        stub = lab_stub(root / lab, lab)
        target = root / lab / "submission.py"
        if stub is not None and (not target.is_file() or target.read_text() != stub):
            target.write_text(stub)
            changed.append(target)
    return changed


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``release`` on the CLI's subparsers."""
    parser = subparsers.add_parser(
        "release", help="build the student handout (stubs from solutions, no instructor files)",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None,
                        help="folder to write the handout to (required unless --sync-stubs)")
    parser.add_argument("--lab", action="append", default=None,
                        help="release only this lab (repeatable; default: every lab)")
    parser.add_argument("--force", action="store_true",
                        help="replace --out even when it is not empty")
    parser.add_argument("--sync_stubs", "--sync-stubs", action="store_true",
                        help="rewrite each lab's committed submission.py from its "
                             "instructor/solution.py (then build only if --out is given)")
    parser.add_argument("--repo", default=str(REPO_ROOT),
                        help="the instructor repository to release (default: this one)")
    parser.set_defaults(func=cmd_release)
    return parser


def cmd_release(args: argparse.Namespace) -> int:
    """Handler of ``python -m grading release``."""
    root = Path(args.repo).resolve()
    try:
        if not root.is_dir():
            raise ReleaseError(f"--repo {root} is not a folder.")
        if args.sync_stubs:
            changed = sync_stubs(root, args.lab)
            for path in changed:
                print(f"updated {path.relative_to(root)}")
            print(f"{len(changed)} stub(s) rewritten" if changed else "stubs already in sync")
            if args.out is None:
                return 0
        if args.out is None:
            print("error: release needs --out DIR (or --sync-stubs).", file=sys.stderr)
            return 2
        print(build_handout(root, Path(args.out), args.lab, force=args.force).summary())
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
