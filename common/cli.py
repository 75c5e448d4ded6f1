"""Command lines of the lab scripts: one ``--flag`` per field of a settings dataclass."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Collection, Mapping, Sequence


def dataclass_parser(cls: type, help: Mapping[str, str], description: str, *,
                     choices: Mapping[str, Sequence] | None = None,
                     required: Collection[str] = (), exclude: Collection[str] = ()
                     ) -> argparse.ArgumentParser:
    """An ArgumentParser with a ``--name`` flag for each field of the dataclass ``cls``.

    The field's default gives the flag's default and type: a bool becomes a switch (``--name``
    / ``--no-name``), a list or tuple takes one or more values of its first item's type, and
    None (an optional path or name) takes a string. The help is ``help[name]`` and the default
    (for None, the help alone says what happens). Flags named in ``required`` must be given,
    ``choices`` lists a flag's allowed values, and fields in ``exclude`` get no flag (the caller
    adds its own). ``vars(parser.parse_args(argv))`` then holds the field values by name.
    """
    defaults = cls()
    parser = argparse.ArgumentParser(description=description)
    for field in dataclasses.fields(cls):
        name = field.name
        if name in exclude:
            continue
        default = getattr(defaults, name)
        options: dict = {"help": help[name] if name in required or default is None
                         else f"{help[name]} (default: {default})"}
        if name in required:
            options["required"] = True
        else:
            options["default"] = list(default) if isinstance(default, tuple) else default
        if isinstance(default, bool):
            options["action"] = argparse.BooleanOptionalAction
        elif isinstance(default, list | tuple):
            options.update(type=type(default[0]) if default else str, nargs="+")
        else:
            options["type"] = str if default is None else type(default)
        if choices and name in choices:
            options["choices"] = choices[name]
        parser.add_argument(f"--{name}", **options)
    return parser
