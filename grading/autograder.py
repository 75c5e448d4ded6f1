"""``python -m grading autograder --lab LAB --out autograder.zip``: a lab's Gradescope autograder.

Upload the zip on Gradescope's "Configure Autograder" page (an Ubuntu base image). Gradescope
unpacks it into ``/autograder/source``, runs ``setup.sh`` once while it builds the image, then
``run_autograder`` for every submission, with the student's files in ``/autograder/submission``,
and shows ``/autograder/results/results.json``.

The zip holds the grader (``grading/``, ``common/``), the lab with its ``instructor/`` folder, the
pinned ``requirements.txt`` and the two scripts; nothing else of the repository. ``setup.sh``
installs bubblewrap and Python 3.11 with the pinned packages (torch's CPU build) under
``/autograder``, readable by every user: where bubblewrap cannot create namespaces in the
container, the sandbox still runs each submission as an unprivileged uid, which must be able to
read them. ``run_autograder`` runs ``python -m grading grade-one`` on the submission.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from grading.labs import REPO_ROOT
from grading.release import EXCLUDED_NAMES, EXCLUDED_SUFFIXES, source_files

SHIPPED = ("grading", "common")
NEVER_SHIPPED = EXCLUDED_NAMES - {"instructor"}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip entries carry no build time: same sources, same zip

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu).
# Built by `python -m grading autograder`; see grading/autograder.py.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q bubblewrap curl ca-certificates
# Python 3.11 and the pinned packages under $ROOT, where every uid may read them
export UV_INSTALL_DIR="$ROOT/uv" UV_PYTHON_INSTALL_DIR="$ROOT/python" UV_CACHE_DIR=/tmp/uv-cache
curl -LsSf https://astral.sh/uv/install.sh | sh
"$ROOT/uv/uv" venv --python 3.11 "$ROOT/venv"
"$ROOT/uv/uv" pip install --python "$ROOT/venv/bin/python" \\
    --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match \\
    -r "$ROOT/source/requirements.txt"
mkdir -p "$ROOT/data"
chmod -R o+rX "$ROOT/python" "$ROOT/venv" "$ROOT/source" "$ROOT/data"
"$ROOT/venv/bin/python" -c "import grading.cli, numpy, torch, sklearn, mlxtend" \\
    || { echo "setup.sh: the packages do not import" >&2; exit 1; }
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: the student's files are in $ROOT/submission,
# the result goes to $ROOT/results/results.json. Built by `python -m grading autograder`.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
cd "$ROOT/source"
export LABS_DATA_DIR="$ROOT/data" LABS_NO_PROGRESS=1 PYTHONDONTWRITEBYTECODE=1
exec "$ROOT/venv/bin/python" -m grading grade-one --lab "$ROOT/source/{lab}" \\
    --submission "$ROOT/submission" --out "$ROOT/results" --submission_id submission
"""


def _ships(path: str) -> bool:
    return not any(part in NEVER_SHIPPED or part.endswith(EXCLUDED_SUFFIXES)
                   for part in path.split("/"))


def bundle_files(root: Path, lab_dir: Path) -> dict[str, Path]:
    """What the autograder of the lab at ``lab_dir`` holds besides its two scripts: name in the
    zip -> file. The grader and ``common/`` of the repository ``root`` (its tracked files in a
    git checkout), its ``requirements.txt``, and the lab, instructor files included, as a
    top-level folder named like the lab."""
    files, _ = source_files(root)
    lab_prefix = lab_dir.relative_to(root).as_posix() + "/"
    chosen = {"requirements.txt": root / "requirements.txt"}
    for path in files:
        if not _ships(path) or not (root / path).is_file():
            continue
        if path.split("/")[0] in SHIPPED:
            chosen[path] = root / path
        elif path.startswith(lab_prefix):
            chosen[lab_dir.name + "/" + path[len(lab_prefix):]] = root / path
    return dict(sorted(chosen.items()))


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_autograder(lab_dir: Path, out: Path, root: Path = REPO_ROOT) -> list[str]:
    """Write the Gradescope autograder zip of the lab at ``lab_dir`` (a folder of the repository
    ``root``) to ``out``; return the names it holds. Raises ValueError for a folder of
    ``root`` without hidden tests."""
    lab_dir, root = Path(lab_dir).resolve(), Path(root).resolve()
    if not lab_dir.is_relative_to(root) or not (lab_dir / "instructor" / "hidden_tests").is_dir():
        raise ValueError(f"{lab_dir} is not a lab folder of {root} with instructor/hidden_tests; "
                         f"give one of the labs, e.g. --lab lab_gmm.")
    files = bundle_files(root, lab_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.format(lab=lab_dir.name).encode(),
             executable=True)
        for name, path in files.items():
            _add(archive, name, path.read_bytes())
    return ["setup.sh", "run_autograder", *files]


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
    from grading.cli import resolve_lab_dir

    try:
        lab_dir = resolve_lab_dir(args.lab)
        names = build_autograder(lab_dir, Path(args.out))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: the {lab_dir.name} autograder, {len(names)} files. Upload it on "
          "Gradescope's Configure Autograder page.")
    return 0
