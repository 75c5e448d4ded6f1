"""``python -m bench {list,all,NAME}``: run the project's benchmarks and print their figures."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    """Benchmark modules in this package (``bench/bench_*.py``), by short name."""
    here = Path(__file__).parent
    return sorted(m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(here)])
                  if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", help=f"'list', 'all', or one of: {', '.join(names) or 'none yet'}")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    args = parser.parse_args(argv)
    if args.name == "list":
        print("\n".join(names))
        return 0
    chosen = names if args.name == "all" else [args.name]
    unknown = [n for n in chosen if n not in names]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(names)}")
    for name in chosen:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"== {name}")
        module.run(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
