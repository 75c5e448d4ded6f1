"""Solution markers of ``instructor/solution.py`` and what is generated from them.

In the instructor source each answer sits between two marker lines::

    def _e_step(self, X):
        \"\"\"... docstring with shapes ...\"\"\"
        # BEGIN SOLUTION
        log_resp = ...
        return np.exp(log_resp)
        # END SOLUTION

* :func:`reference_source` drops the marker lines (the reference submission);
* :func:`stub_source` replaces each region by the stub region of the student's ``submission.py``::

        # ===== START OF YOUR CODE =====
        raise NotImplementedError("lab_gmm: GMM._e_step")
        # ===== END OF YOUR CODE =====

Nested, unterminated or unopened markers raise :class:`MarkerError` naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUB_START, STUB_END = "# ===== START OF YOUR CODE =====", "# ===== END OF YOUR CODE ====="
_DEF = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+([A-Za-z_]\w*)")


class MarkerError(ValueError):
    """Solution markers that do not pair up; the message names the file and line."""


@dataclass(frozen=True)
class Region:
    """One solution region: 1-based line numbers of its markers, its indentation and owner."""

    begin: int
    end: int
    indent: str
    owner: str  # "GMM._e_step", or "<module>" at top level


def _owner(lines: list[str], index: int, indent: str) -> str:
    """The dotted name of the def/class enclosing line ``index`` (indented by ``indent``)."""
    names: list[str] = []
    level = len(indent)
    for line in reversed(lines[:index]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < level:
            names.append(match.group(3))
            level = len(match.group(1))
            if level == 0:
                break
    return ".".join(reversed(names)) or "<module>"


def find_regions(source: str, filename: str = "solution.py") -> list[Region]:
    """The solution regions of ``source``, validated (no nesting, every BEGIN has an END)."""
    lines = source.splitlines()
    regions: list[Region] = []
    open_at: int | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if open_at is not None:
                raise MarkerError(f"{filename}:{number}: '{BEGIN}' inside the region opened at "
                                  f"line {open_at}; regions cannot nest. Close it first.")
            open_at = number
        elif stripped == END:
            if open_at is None:
                raise MarkerError(f"{filename}:{number}: '{END}' without a matching '{BEGIN}'.")
            opener = lines[open_at - 1]
            indent = opener[: len(opener) - len(opener.lstrip())]
            regions.append(Region(open_at, number, indent, _owner(lines, open_at - 1, indent)))
            open_at = None
        elif BEGIN in line or END in line:
            raise MarkerError(f"{filename}:{number}: a solution marker must be alone on its "
                              f"line; found {stripped!r}.")
    if open_at is not None:
        raise MarkerError(f"{filename}:{open_at}: '{BEGIN}' is never closed by '{END}'.")
    return regions


def reference_source(source: str, filename: str = "solution.py") -> str:
    """``source`` with the marker lines removed: the reference submission."""
    find_regions(source, filename)
    kept = [line for line in source.splitlines(keepends=True)
            if line.strip() not in (BEGIN, END)]
    return "".join(kept)


def stub_source(source: str, lab: str, filename: str = "solution.py") -> str:
    """``source`` with each solution region replaced by the student stub region."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    previous = 0
    for region in find_regions(source, filename):
        out.extend(lines[previous: region.begin - 1])
        owner = region.owner if region.owner != "<module>" else "module-level code"
        out += [f"{region.indent}{STUB_START}\n",
                f'{region.indent}raise NotImplementedError("{lab}: {owner}")\n',
                f"{region.indent}{STUB_END}\n"]
        previous = region.end
    out.extend(lines[previous:])
    return "".join(out)
