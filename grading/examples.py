"""Example submissions of a lab: the reference, the blank stub, and known-wrong patches.

A known-wrong example is a small file ``examples/<lab>/<name>.py`` appended to the reference
solution (its definitions override the honest ones), or, when its first line is
``# mode: replace``, the whole submission. An example that also carries files beside
``submission.py`` (a saved run, ``answers.json``) is a folder ``examples/<lab>/<name>/`` holding
those files and an optional ``patch.py`` (none: the reference as it is); a folder named
``reference`` adds its files to the reference example. ``examples/<lab>/expected.json`` pins what
each one scores: ``{"<name>": {"score": 43, "reason": "regex in feedback.md", "why": "..."}}``;
``"score": "full"`` means the lab's maximum, and ``"files": "reference"`` gives a patch example the
reference's files (a code mistake submitted with a correct saved run). Unless pinned otherwise,
the reference scores full points and the blank stub 0, its feedback saying "not implemented yet".
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grading.labs import REPO_ROOT
from grading.solution_markers import reference_source

EXAMPLES_ROOT = REPO_ROOT / "examples"
REPLACE = "# mode: replace"
FULL = "full"


@dataclass(frozen=True)
class Example:
    """One example submission: its source and what it should score."""

    lab: str
    name: str
    source: str
    score: float | str | None = None  # points, FULL, or None when not pinned
    reason: str | None = None  # a regex that its feedback.md must contain
    why: str = ""
    files: tuple[tuple[str, bytes], ...] = ()  # other files of the submission, by relative path


def reference_submission(lab_dir: Path) -> str:
    """The instructor solution with its markers removed."""
    path = Path(lab_dir) / "instructor" / "solution.py"
    return reference_source(path.read_text(), str(path))


def reference_module(lab_dir: Path) -> types.ModuleType:
    """The instructor solution (markers removed) as a fresh module named ``submission``."""
    module = types.ModuleType("submission")
    module.__file__ = str(Path(lab_dir) / "submission.py")
    exec(compile(reference_submission(lab_dir), str(Path(lab_dir) / "instructor" / "solution.py"),
                 "exec"), module.__dict__)
    return module


@contextmanager
def reference_lab(lab_dir: Path, submission: types.ModuleType | None = None
                  ) -> Iterator[Callable[[str], types.ModuleType]]:
    """Yields ``import_module``: ``import_module("train")`` imports one of the lab's fixed
    modules (the ``*.py`` files of ``lab_dir``), whose ``import submission`` gets ``submission``
    (default: :func:`reference_module`). Afterwards ``sys.modules`` and ``sys.path`` are as
    they were, so two labs' ``train`` modules never mix."""
    lab_dir = Path(lab_dir)
    names = {path.stem for path in lab_dir.glob("*.py")} | {"submission"}
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    sys.path.insert(0, str(lab_dir))
    sys.modules["submission"] = submission or reference_module(lab_dir)
    try:
        yield importlib.import_module
    finally:
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
        sys.path.remove(str(lab_dir))


def apply_patch(reference: str, patch: str) -> str:
    """The submission that ``patch`` describes (appended to ``reference``, or replacing it)."""
    return patch if patch.startswith(REPLACE) else reference.rstrip("\n") + "\n\n\n" + patch


def _folder_files(folder: Path) -> tuple[tuple[str, bytes], ...]:
    """The files of an example folder but its ``patch.py``, by relative path, sorted."""
    return tuple((p.relative_to(folder).as_posix(), p.read_bytes())
                 for p in sorted(folder.rglob("*"))
                 if p.is_file() and p.name != "patch.py" and "__pycache__" not in p.parts)


def lab_examples(lab_dir: Path, examples_root: Path = EXAMPLES_ROOT) -> list[Example]:
    """reference, blank, then the lab's known-wrong examples in name order."""
    lab_dir = Path(lab_dir)
    lab = lab_dir.name
    reference = reference_submission(lab_dir)
    folder = examples_root / lab
    pinned = {}
    if (folder / "expected.json").is_file():
        pinned = json.loads((folder / "expected.json").read_text())

    reference_files = _folder_files(folder / "reference") if (folder / "reference").is_dir() \
        else ()

    def facts(name: str, default_score=None, default_why: str = "", default_reason=None
              ) -> dict:
        entry = pinned.get(name, {})
        return {"score": entry.get("score", default_score),
                "reason": entry.get("reason", default_reason),
                "why": entry.get("why", default_why)}

    def patch_files(name: str) -> tuple[tuple[str, bytes], ...]:
        files = pinned.get(name, {}).get("files")
        if files is None:
            return ()
        if files != "reference":
            raise ValueError(f"{folder / 'expected.json'}: {name}: \"files\" must be "
                             f"\"reference\" (the reference's files); received {files!r}.")
        return reference_files
    examples = [Example(lab, "reference", reference, files=reference_files,
                        **facts("reference", FULL, "the instructor solution")),
                Example(lab, "blank", (lab_dir / "submission.py").read_text(),
                        **facts("blank", 0.0, "the untouched stub", "not implemented yet"))]
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    for entry in entries:
        if entry.suffix == ".py" and entry.is_file():
            source = apply_patch(reference, entry.read_text())
            examples.append(Example(lab, entry.stem, source, files=patch_files(entry.stem),
                                    **facts(entry.stem)))
        elif entry.is_dir() and entry.name not in ("reference", "__pycache__"):
            patch = entry / "patch.py"
            source = apply_patch(reference, patch.read_text()) if patch.is_file() else reference
            examples.append(Example(lab, entry.name, source, files=_folder_files(entry),
                                    **facts(entry.name)))
    return examples


def write_submission(source: str, folder: Path,
                     files: tuple[tuple[str, bytes], ...] = ()) -> Path:
    """Write ``source`` as ``folder/submission.py`` beside ``files``; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "submission.py").write_text(source)
    for name, data in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder
