"""``python -m grading demo``: each example graded and checked against its pin."""

from __future__ import annotations

from types import SimpleNamespace

from grading import demo
from grading.demo import GradedExample
from grading.examples import FULL, Example


def graded(tmp_path, score: float, pinned, reason: str | None = None,
           feedback: str = "you returned the Hessian") -> GradedExample:
    (tmp_path / "feedback.md").write_text(feedback)
    example = Example("lab_x", "wrong", "x = 1\n", score=pinned, reason=reason, why="a mistake")
    return GradedExample(example, SimpleNamespace(score=score, max_score=10.0), tmp_path)


def test_verdict_checks_the_pinned_score_then_the_pinned_reason(tmp_path):
    assert graded(tmp_path, 4, 4.0, "the Hessian").verdict() == "ok"
    assert graded(tmp_path, 10, FULL).verdict() == "ok"
    assert graded(tmp_path, 4, None).verdict() == "" and graded(tmp_path, 4, None).problem() is None
    wrong_score = graded(tmp_path, 3, 4.0, "the Hessian")
    assert wrong_score.verdict() == "EXPECTED 4"
    assert "wrong: scored 3, EXPECTED 4 (a mistake" in wrong_score.problem()
    assert "you returned the Hessian" in wrong_score.problem()  # the feedback, to debug it
    no_reason = graded(tmp_path, 4, 4.0, "the gradient")
    assert no_reason.verdict() == "REASON MISSING from feedback"
    assert "'the gradient'" in no_reason.problem()


def test_run_demo_grades_each_lab_and_reports_every_example(monkeypatch, capsys):
    monkeypatch.setattr(demo, "demo_labs", lambda: [demo.FIXTURE_LAB])
    assert demo.run_demo() == 0
    out = capsys.readouterr().out
    assert "reference   10/10" in out and "blank       0/10" in out
    assert out.count(" ok ") == 2 and "all examples scored as expected" in out
