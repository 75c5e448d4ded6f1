"""The lab's files agree with each other: stub and solution, rubric, settings, scripts."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from grading.scoring import load_rubric
from grading.solution_markers import find_regions, stub_source

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab_digits_tricks"
HIDDEN = LAB / "instructor" / "hidden_tests"


def test_stub_is_generated_from_the_solution():
    solution = (LAB / "instructor" / "solution.py").read_text()
    assert (LAB / "submission.py").read_text() == stub_source(solution, "lab_digits_tricks")
    owners = {region.owner for region in find_regions(solution)}
    assert {"SGD.step", "AdaGrad.step", "Adam.step", "BatchNorm1d.forward", "Dropout.forward",
            "init_he", "fit_model", "random_search"} <= owners


def test_public_conftest_is_the_plugin_loader():
    fixture = REPO / "tests" / "grading" / "fixture_lab" / "tests" / "conftest.py"
    assert (LAB / "tests" / "conftest.py").read_text() == fixture.read_text()


def test_rubric_and_grader_settings():
    rubric = load_rubric(LAB / "instructor" / "rubric.json")
    assert set(rubric) == {"best_test_accuracy", "optimizer_test_accuracy"}
    assert rubric.manual_points == 5
    settings = json.loads((LAB / "instructor" / "grader.json").read_text())
    assert settings == {"preload": ["numpy", "torch"], "threads": 1}


def _constant(path: Path, name: str):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{name} not in {path}")


def test_grade_py_shows_what_the_grader_grades():
    rubric = load_rubric(LAB / "instructor" / "rubric.json")
    grade = LAB / "grade.py"
    performance = HIDDEN / "test_training.py"
    assert _constant(grade, "GRADED_CONFIG") == _constant(performance, "BEST_CONFIG")
    assert _constant(grade, "FULL_CREDIT_ACCURACY") == rubric["best_test_accuracy"].target
    assert _constant(performance, "EPOCHS") == 100


def test_hidden_points_add_up_to_100():
    total = 0.0
    for path in HIDDEN.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            points, cases = 0.0, 1
            for deco in node.decorator_list:
                name = ast.unparse(deco)
                if name.startswith("pytest.mark.points("):
                    points = float(ast.literal_eval(deco.args[0]))
                if name.startswith("pytest.mark.parametrize("):
                    values = deco.args[1]
                    cases = len(ast.literal_eval(values)) if not isinstance(values, ast.Call) \
                        else len(_constant(path, values.args[0].id))
            total += points * cases
    assert total == 100


def test_readme_is_the_handout():
    text = (LAB / "README.md").read_text()
    for needle in ("python train.py", "python visualization.py", "python grade.py",
                   "python load_resources.py", "0.965", "0.93", "1077 train / 360 validation"):
        assert needle in text


def test_questions_file_holds_the_rubric_questions_and_is_handed_in():
    rubric = json.loads((LAB / "instructor" / "rubric.json").read_text())
    text = " ".join((LAB / "QUESTIONS.md").read_text().split())
    for key, question in rubric["manual"].items():
        heading = f"`{key}` ({question['points']} points)"
        assert heading in text and " ".join(question["prompt"].split()) in text, key
    assert text.count("**Your answer:**") == len(rubric["manual"])
    readme = (LAB / "README.md").read_text()
    hand_in = readme[readme.index("## Hand in"):]
    assert "`submission.py`" in hand_in and "`QUESTIONS.md`" in hand_in
