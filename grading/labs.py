"""Where the labs are, and what each one ships."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAB_NAMES = ("lab_gmm", "lab_sae", "lab_data_selection", "lab_digits_tricks")


@dataclass(frozen=True)
class Lab:
    """One lab folder: ``name`` (``lab_gmm``) and its ``path``."""

    name: str
    path: Path

    @property
    def summary(self) -> str:
        """The first paragraph of the lab's README after its title."""
        readme = self.path / "README.md"
        if not readme.is_file():
            return ""
        paragraphs = [p.strip() for p in readme.read_text().split("\n\n")]
        body = [p for p in paragraphs if p and not p.startswith("#")]
        return " ".join(body[0].split()) if body else ""

    @property
    def has_grader(self) -> bool:
        """True once the lab has hidden tests to grade with."""
        return (self.path / "instructor" / "hidden_tests").is_dir()


def find_labs(root: Path = REPO_ROOT) -> list[Lab]:
    """The labs present under ``root``, in course order."""
    return [Lab(name, root / name) for name in LAB_NAMES if (root / name).is_dir()]


def get_lab(name: str, root: Path = REPO_ROOT) -> Lab:
    """The lab called ``name``, or a ValueError listing the labs that exist."""
    labs = {lab.name: lab for lab in find_labs(root)}
    if name not in labs:
        raise ValueError(f"unknown lab {name!r}; the labs here are: {', '.join(labs) or 'none'}.")
    return labs[name]


def resolve_lab_dir(lab: str, root: Path = REPO_ROOT) -> Path:
    """A lab given by name (``lab_gmm``) or by the path of its folder; a ValueError that says
    what was given and what is expected otherwise."""
    path = Path(lab)
    if path.is_dir() and (path / "instructor" / "hidden_tests").is_dir():
        return path.resolve()
    if "/" in lab or path.is_dir():
        raise ValueError(f"{lab} is not a lab folder with instructor/hidden_tests/.")
    return get_lab(lab, root).path
