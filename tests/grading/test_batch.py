"""Batch grading: discovery, safe archives, caching, resumption after SIGKILL, the gradebook."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grading.batch import BatchGrader, discover, extract_zip, lab_fingerprint, safe_id
from grading.examples import apply_patch, reference_submission, write_submission
from grading.gradebook import grades_csv
from grading.sandbox.launcher import bwrap_works

from .test_adversarial import CASES, FULL, build_submission

HERE = Path(__file__).parent
LAB = HERE / "fixture_lab"
REFERENCE = reference_submission(LAB)


def test_safe_id_keeps_usable_names():
    assert safe_id("alice_01") == "alice_01"
    assert safe_id("bob smith/..") == "bob_smith"
    assert safe_id("...") == "unnamed"


def test_discover_finds_folders_py_and_zip_and_reports_the_rest(tmp_path):
    (tmp_path / "s1").mkdir()
    (tmp_path / "s2.py").write_text("x = 1\n")
    with zipfile.ZipFile(tmp_path / "s3.zip", "w") as zf:
        zf.writestr("submission.py", "x = 1\n")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "s1.py").write_text("")  # same id as the folder s1
    subs, skipped = discover(tmp_path)
    assert [s.student_id for s in subs] == ["s1", "s2", "s3"]
    assert any("notes.txt" in s for s in skipped) and any("same student id" in s for s in skipped)
    with pytest.raises(ValueError, match="no submissions folder"):
        discover(tmp_path / "missing")


def _zip(path: Path, entries: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in entries.items():
            zf.writestr(name, text)
    return path


def test_extract_zip_descends_into_a_single_top_folder(tmp_path):
    archive = _zip(tmp_path / "a.zip", {"hw/submission.py": "x = 1\n", "hw/answers.json": "{}"})
    folder = extract_zip(archive, tmp_path / "out")
    assert (folder / "submission.py").read_text() == "x = 1\n"


@pytest.mark.parametrize("name", ["../evil.py", "/abs/submission.py"])
def test_extract_zip_refuses_unsafe_entries(tmp_path, name):
    archive = _zip(tmp_path / "a.zip", {name: "x"})
    with pytest.raises(ValueError, match="unsafe entry"):
        extract_zip(archive, tmp_path / "out")


def test_extract_zip_refuses_a_non_zip(tmp_path):
    (tmp_path / "a.zip").write_text("not a zip")
    with pytest.raises(ValueError, match="not a valid zip"):
        extract_zip(tmp_path / "a.zip", tmp_path / "out")


def test_lab_fingerprint_follows_the_hidden_tests(tmp_path):
    import shutil

    lab = tmp_path / "fixture_lab"
    shutil.copytree(LAB, lab)
    before = lab_fingerprint(lab)
    (lab / "submission.py").write_text("# the stub does not matter\n")
    assert lab_fingerprint(lab) == before
    test = lab / "instructor" / "hidden_tests" / "test_fixture.py"
    test.write_text(test.read_text() + "\n# changed\n")
    assert lab_fingerprint(lab) != before


def make_class(folder: Path) -> Path:
    """A small class: honest, blank, zipped, broken, missing file, and one that loops."""
    write_submission(REFERENCE + "# ada\n", folder / "ada")
    (folder / "bea.py").write_text((LAB / "submission.py").read_text())
    _zip(folder / "cal.zip", {"cal/submission.py": REFERENCE})
    write_submission(apply_patch(REFERENCE, "def fit_line(x, y):\n    return 0.0, 0.0\n"),
                     folder / "dan")
    (folder / "eve").mkdir()
    (folder / "eve" / "readme.txt").write_text("forgot the file")
    write_submission(apply_patch(REFERENCE, "def softmax(z):\n    while True:\n        pass\n"),
                     folder / "fay")
    return folder


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_batch_grades_everyone_and_a_rerun_uses_the_cache(tmp_path):
    subs, _ = discover(make_class(tmp_path / "class"))
    grader = BatchGrader(LAB, tmp_path / "out", workers=2)
    first = grader.run(subs, show_progress=False)
    scores = {sid: o.result.score for sid, o in first.items()}
    assert scores == {"ada": 10, "bea": 0, "cal": 10, "dan": 8, "eve": 0, "fay": 4}
    assert "no submission.py" in first["eve"].result.error
    for sid in scores:
        assert (tmp_path / "out" / "submissions" / sid / "results.json").is_file()
    again = BatchGrader(LAB, tmp_path / "out", workers=2).run(subs, show_progress=False)
    assert all(o.from_cache for sid, o in again.items() if sid != "eve")
    csv_first = grades_csv({k: o.result for k, o in first.items()})
    assert csv_first == grades_csv({k: o.result for k, o in again.items()})
    assert csv_first.count("\n") == 7


def _grade_cmd(submissions: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "grading", "grade", "--lab", str(LAB), "--submissions",
            str(submissions), "--out", str(out), "--workers", "1", "--no_progress"]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sigkill_midway_then_rerun_gives_the_same_gradebook(tmp_path):
    folder = make_class(tmp_path / "class")
    for i in range(4):  # more honest work (distinct files), so the kill lands in the middle
        write_submission(REFERENCE + f"# student {i}\n", folder / f"zed{i}")
    subprocess.run(_grade_cmd(folder, tmp_path / "whole"), check=True, timeout=300,
                   capture_output=True)

    proc = subprocess.Popen(_grade_cmd(folder, tmp_path / "killed"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    cache = tmp_path / "killed" / ".cache" / LAB.name
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(cache.glob("*.json"))) < 3:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    graded_before = len(list(cache.glob("*.json")))
    assert 3 <= graded_before < 9, "the kill should land midway"
    assert not (tmp_path / "killed" / "grades.csv").exists()

    rerun = subprocess.run(_grade_cmd(folder, tmp_path / "killed"), check=True, timeout=300,
                           capture_output=True, text=True)
    assert f"{graded_before} from cache" in rerun.stdout, rerun.stdout
    whole = (tmp_path / "whole" / "grades.csv").read_bytes()
    assert (tmp_path / "killed" / "grades.csv").read_bytes() == whole
    assert whole.count(b"\n") == 11


def test_grades_csv_is_stable_and_lists_every_test():
    from grading.report.result import SubmissionResult, TestResult

    def result(sid, scores):
        tests = [TestResult(name=n, max_score=2, score=s, status="passed" if s == 2 else "failed")
                 for n, s in scores.items()]
        return SubmissionResult(submission_id=sid, lab="lab", tests=tests, isolation="bwrap",
                                grader_version="t", started_at="2026-01-01T00:00:00+00:00")

    results = {"b": result("b", {"t1": 2, "t2": 0}), "a": result("a", {"t1": 1})}
    text = grades_csv(results)
    lines = text.splitlines()
    assert lines[0].endswith(",t1,t2")
    assert lines[1].startswith("a,1,2,") and lines[1].endswith(",1,")
    assert lines[2].startswith("b,2,4,")
    assert text == grades_csv(dict(reversed(list(results.items()))))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_class_with_the_adversarial_corpus_gets_a_row_each(tmp_path):
    """Every attack of the corpus beside honest students, in one parallel batch: the batch exits
    0, every student has a row, the honest ones keep full points and each attack gets the score
    its own test pins."""
    folder = tmp_path / "class"
    for case in CASES:
        build_submission(case, folder / case, OUT=str(tmp_path / "elsewhere"), LAB=str(LAB),
                         PORT="9", MARK=f"batch-marker-{case}")
    for i in range(2):
        write_submission(REFERENCE + f"# honest {i}\n", folder / f"honest{i}")
    cmd = _grade_cmd(folder, tmp_path / "out")
    cmd[cmd.index("--workers") + 1] = "2"
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=840)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == sorted([*CASES, "honest0", "honest1"])
    for case, expected in CASES.items():
        if expected.needs_bwrap and not bwrap_works():
            continue
        assert float(rows[case]["score"]) == pytest.approx(expected.score), rows[case]
    assert float(rows["honest0"]["score"]) == float(rows["honest1"]["score"]) == FULL
    assert not (tmp_path / "elsewhere").exists()


def test_a_process_level_batch_checks_the_unprivileged_uid_once_up_front(monkeypatch, tmp_path):
    import grading.batch as batch

    checked = []
    monkeypatch.setattr(batch, "process_level_problem",
                        lambda spec: checked.append(spec.lab_dir) or None)
    BatchGrader(LAB, tmp_path / "out", isolation="process")
    assert checked == [LAB]
    if bwrap_works():
        BatchGrader(LAB, tmp_path / "out", isolation="bwrap")
        assert checked == [LAB]
