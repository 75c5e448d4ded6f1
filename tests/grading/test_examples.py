"""Example helpers: the reference solution imported as ``submission`` beside a lab's fixed
modules, without leaking into ``sys.modules`` or ``sys.path``."""

from __future__ import annotations

import sys

import pytest

from grading.examples import lab_examples, reference_lab, reference_module

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


def test_a_patch_example_can_carry_the_references_files(tmp_path):
    lab = tmp_path / "lab_x"
    (lab / "instructor").mkdir(parents=True)
    (lab / "instructor" / "solution.py").write_text("X = 1\n")
    (lab / "submission.py").write_text("X = None\n")
    examples = tmp_path / "examples" / "lab_x"
    (examples / "reference").mkdir(parents=True)
    (examples / "reference" / "answers.json").write_text("{}\n")
    (examples / "wrong.py").write_text("X = 2\n")
    (examples / "alone.py").write_text("X = 3\n")
    (examples / "expected.json").write_text(
        '{"wrong": {"score": 1, "files": "reference"}, "alone": {"score": 0}}')
    found = {e.name: e for e in lab_examples(lab, tmp_path / "examples")}
    assert found["wrong"].files == (("answers.json", b"{}\n"),) == found["reference"].files
    assert found["alone"].files == () and found["wrong"].source.endswith("X = 2\n")
    (examples / "expected.json").write_text('{"wrong": {"files": "mine"}}')
    with pytest.raises(ValueError, match='"files" must be "reference"'):
        lab_examples(lab, tmp_path / "examples")
