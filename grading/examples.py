"""Example submissions of a lab: the reference, the blank stub, and known-wrong patches.

A known-wrong example is a small file ``examples/<lab>/<name>.py`` appended to the reference
solution (its definitions override the honest ones), or, when its first line is
``# mode: replace``, the whole submission. ``examples/<lab>/expected.json`` pins what each one
scores: ``{"<name>": {"score": 43, "reason": "regex in feedback.md", "why": "..."}}``;
``"score": "full"`` means the lab's maximum.
"""

from __future__ import annotations

import json
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


def reference_submission(lab_dir: Path) -> str:
    """The instructor solution with its markers removed."""
    path = Path(lab_dir) / "instructor" / "solution.py"
    return reference_source(path.read_text(), str(path))


def apply_patch(reference: str, patch: str) -> str:
    """The submission that ``patch`` describes (appended to ``reference``, or replacing it)."""
    return patch if patch.startswith(REPLACE) else reference.rstrip("\n") + "\n\n\n" + patch


def lab_examples(lab_dir: Path, examples_root: Path = EXAMPLES_ROOT) -> list[Example]:
    """reference, blank, then the lab's known-wrong examples in name order."""
    lab_dir = Path(lab_dir)
    lab = lab_dir.name
    reference = reference_submission(lab_dir)
    folder = examples_root / lab
    pinned = {}
    if (folder / "expected.json").is_file():
        pinned = json.loads((folder / "expected.json").read_text())
    examples = [Example(lab, "reference", reference, FULL, None, "the instructor solution"),
                Example(lab, "blank", (lab_dir / "submission.py").read_text(), 0.0, None,
                        "the untouched stub")]
    for patch in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        facts = pinned.get(patch.stem, {})
        examples.append(Example(lab, patch.stem, apply_patch(reference, patch.read_text()),
                                facts.get("score"), facts.get("reason"), facts.get("why", "")))
    return examples


def write_submission(source: str, folder: Path) -> Path:
    """Write ``source`` as ``folder/submission.py``; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "submission.py").write_text(source)
    return folder
