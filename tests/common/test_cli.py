from dataclasses import dataclass, field

import pytest

from common.cli import dataclass_parser


@dataclass
class Settings:
    path: str = ""
    epochs: int = 10
    lr: float = 0.1
    digits: list[int] = field(default_factory=lambda: [6, 7])
    pair: tuple[int, ...] = (1, 2)
    fast: bool = False
    check: bool = True
    device: str = "cpu"
    special: bool = True
    cache: str | None = None


HELP = {name: f"the {name}" for name in Settings.__dataclass_fields__}


def parser(**options):
    return dataclass_parser(Settings, HELP, "a script", **options)


def test_defaults_types_switches_and_lists():
    values = vars(parser().parse_args([]))
    assert values == {"path": "", "epochs": 10, "lr": 0.1, "digits": [6, 7], "pair": [1, 2],
                      "fast": False, "check": True, "device": "cpu", "special": True,
                      "cache": None}
    values = vars(parser().parse_args(["--epochs", "3", "--lr", "2", "--digits", "1", "2", "3",
                                       "--fast", "--no-check"]))
    assert (values["epochs"], values["lr"], values["digits"]) == (3, 2.0, [1, 2, 3])
    assert values["fast"] is True and values["check"] is False
    assert "the epochs (default: 10)" in parser().format_help()
    assert vars(parser().parse_args(["--cache", "here"]))["cache"] == "here"
    assert "the cache\n" in parser().format_help()  # no "(default: None)"


def test_required_choices_and_excluded_fields(capsys):
    strict = parser(required=("path",), choices={"device": ("cpu", "cuda")}, exclude=("special",))
    with pytest.raises(SystemExit):
        strict.parse_args([])
    assert "--path" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        strict.parse_args(["--path", "x", "--device", "tpu"])
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
    values = vars(strict.parse_args(["--path", "x"]))
    assert values["path"] == "x" and "special" not in values
    with pytest.raises(SystemExit):
        parser().parse_args(["--epochs", "many"])
