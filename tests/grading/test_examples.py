"""Example helpers: the reference solution imported as ``submission`` beside a lab's fixed
modules, without leaking into ``sys.modules`` or ``sys.path``."""

from __future__ import annotations

import sys

from grading.examples import reference_lab, reference_module

from .test_batch import LAB


def test_reference_module_is_the_solution_without_markers():
    module = reference_module(LAB)
    assert module.__name__ == "submission"
    assert callable(module.softmax)


def test_reference_lab_imports_fixed_modules_against_the_reference_and_cleans_up(tmp_path):
    lab = tmp_path / "lab"
    (lab / "instructor").mkdir(parents=True)
    (lab / "instructor" / "solution.py").write_text(
        "def answer():\n    # BEGIN SOLUTION\n    return 42\n    # END SOLUTION\n")
    (lab / "train.py").write_text("from submission import answer\nVALUE = answer()\n")
    path_before = list(sys.path)
    before = {name: sys.modules.get(name) for name in ("train", "submission")}
    with reference_lab(lab) as import_module:
        assert import_module("train").VALUE == 42
    assert sys.path == path_before
    assert {name: sys.modules.get(name) for name in before} == before
