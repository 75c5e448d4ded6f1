"""Batch grading: discovery, safe archives, caching, resumption after SIGKILL, the gradebook."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest

from grading.batch import (
    MAX_FOLDER_BYTES,
    BatchGrader,
    Submission,
    discover,
    entry_kind,
    extract_zip,
    folder_name,
    grade_one_command,
    lab_fingerprint,
)
from grading.cli import build_parser
from grading.examples import apply_patch, reference_submission, write_submission
from grading.gradebook import grades_csv
from grading.sandbox.launcher import bwrap_works
from grading.session import read_submission_files

from .test_adversarial import CASES, FULL, build_submission, cgroups_work

HERE = Path(__file__).parent
LAB = HERE / "fixture_lab"
REFERENCE = reference_submission(LAB)


def test_folder_name_keeps_plain_ids_and_hashes_the_rest():
    assert folder_name("alice_01") == folder_name("alice_01") == "alice_01"
    assert folder_name("bob smith/..").startswith("bob_smith_~")
    assert folder_name("...").startswith("student~")
    assert folder_name("-x").startswith("x~") and folder_name("--help").startswith("help~")
    assert folder_name(".hidden").startswith("hidden~")
    assert folder_name("alice", hashed=True).startswith("alice~")
    # a student cannot take another's folder by naming their entry like it
    assert folder_name(folder_name("Müller Zoë")) != folder_name("Müller Zoë")


def test_discover_finds_folders_py_and_zip_and_reports_the_rest(tmp_path):
    (tmp_path / "s1").mkdir()
    (tmp_path / "s2.py").write_text("x = 1\n")
    with zipfile.ZipFile(tmp_path / "s3.zip", "w") as zf:
        zf.writestr("submission.py", "x = 1\n")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "s1.py").write_text("")  # same id as the folder s1
    subs, skipped = discover(tmp_path)
    assert [s.student_id for s in subs] == ["s1", "s2", "s3"]
    assert [s.folder for s in subs] == ["s1", "s2", "s3"]
    reasons = {s.entry: s.reason for s in skipped}
    assert "not .py or .zip" in reasons["notes.txt"]
    assert "same student id 's1'" in reasons["s1.py"]
    with pytest.raises(ValueError, match="no submissions folder"):
        discover(tmp_path / "missing")


def test_upper_case_py_and_zip_names_are_submissions_too(tmp_path):
    (tmp_path / "Alice.PY").write_text("x = 1\n")
    with zipfile.ZipFile(tmp_path / "Bob.Zip", "w") as zf:
        zf.writestr("submission.py", "x = 1\n")
    subs, skipped = discover(tmp_path)
    assert [(s.student_id, s.path.name) for s in subs] == [("Alice", "Alice.PY"),
                                                          ("Bob", "Bob.Zip")]
    assert skipped == []
    assert read_submission_files(tmp_path / "Alice.PY") == {"submission.py": b"x = 1\n"}


def _discovered(folder: Path) -> tuple[dict[str, Submission], dict[str, str]]:
    """``discover``'s answer as {student id: submission} and {skipped entry: reason}."""
    subs, skipped = discover(folder)
    folders = [s.folder for s in subs]
    assert len({f.casefold() for f in folders}) == len(folders), "two ids share a folder"
    for f in folders:
        assert f not in (".", "..") and not f.startswith(("-", ".")) and "/" not in f
        assert len(f.encode()) <= MAX_FOLDER_BYTES
    return {s.student_id: s for s in subs}, {s.entry: s.reason for s in skipped}


def test_ids_that_only_differ_in_punctuation_or_case_get_their_own_rows(tmp_path):
    for name in ("victim", "_victim", "victim_", "Alice", "alice"):
        (tmp_path / name).mkdir()
    subs, skipped = _discovered(tmp_path)
    assert sorted(subs) == ["Alice", "_victim", "alice", "victim", "victim_"] and not skipped
    assert subs["victim"].folder == "victim" and subs["_victim"].folder == "_victim"
    assert subs["Alice"].folder.startswith("Alice~") and subs["alice"].folder.startswith("alice~")


def test_non_ascii_letters_stay_in_the_id_and_the_folder(tmp_path):
    (tmp_path / "Müller Zoë.py").write_text("")
    (tmp_path / "Zoé.zip").write_bytes(b"")
    (tmp_path / "Zoë.py").write_text("")
    subs, skipped = _discovered(tmp_path)
    assert sorted(subs) == ["Müller Zoë", "Zoé", "Zoë"] and not skipped
    assert subs["Müller Zoë"].folder.startswith("Müller_Zoë~")
    assert subs["Zoë"].folder == "Zoë"


def test_nfc_and_nfd_spellings_of_one_name_are_reported_not_overwritten(tmp_path):
    nfc, nfd = unicodedata.normalize("NFC", "Zoë"), unicodedata.normalize("NFD", "Zoë")
    (tmp_path / f"{nfc}.py").write_text("")
    (tmp_path / f"{nfd}.py").write_text("")
    subs, skipped = _discovered(tmp_path)
    assert len(subs) == 1 and len(skipped) == 1
    (reason,) = skipped.values()
    assert "NFC vs NFD" in reason and "rename one" in reason


def test_same_name_with_another_extension_is_reported_not_overwritten(tmp_path):
    (tmp_path / "alice.py").write_text("")
    _zip(tmp_path / "alice.zip", {"submission.py": ""})
    subs, skipped = _discovered(tmp_path)
    assert subs["alice"].path.name == "alice.py"
    assert "same student id 'alice'" in skipped["alice.zip"]
    assert "'alice.py'" in skipped["alice.zip"]


def test_long_names_sharing_a_long_prefix_keep_distinct_folders(tmp_path):
    names = ["a" * 199 + "1", "a" * 199 + "2", "é" * 60 + "b" * 120, "Zoë " * 50]
    for name in names:
        (tmp_path / f"{name}.py").write_text("")
    subs, skipped = _discovered(tmp_path)
    assert sorted(subs) == sorted(names) and not skipped
    assert len({s.folder for s in subs.values()}) == len(names)


def test_ids_that_look_like_flags_reach_grade_one_as_values(tmp_path):
    (tmp_path / "-x").mkdir()
    (tmp_path / "--help.py").write_text("")
    subs, _ = _discovered(tmp_path)
    assert sorted(subs) == ["--help", "-x"]
    for sid, sub in subs.items():
        cmd = grade_one_command(LAB, sub.path, tmp_path / "out" / sub.folder, sid, "process", 1)
        args = build_parser().parse_args(cmd[cmd.index("grade-one"):])
        assert args.submission_id == sid
        assert Path(args.submission) == sub.path.absolute()


def test_a_folder_named_like_an_archive_is_graded_as_a_folder(tmp_path):
    (tmp_path / "alice.zip").mkdir()
    subs, skipped = _discovered(tmp_path)
    assert list(subs) == ["alice"] and not skipped
    assert entry_kind(subs["alice"].path) == ("folder", "")


def test_hidden_entries_are_reported_never_dropped(tmp_path):
    (tmp_path / ".hidden.py").write_text("")
    (tmp_path / ".git").mkdir()
    (tmp_path / "bob.py").write_text("")
    subs, skipped = _discovered(tmp_path)
    assert list(subs) == ["bob"]
    assert sorted(skipped) == [".git", ".hidden.py"]
    assert all("starts with '.'" in reason for reason in skipped.values())


def test_names_that_cannot_be_shown_are_escaped_in_the_id(tmp_path):
    (tmp_path / "line\nbreak.py").write_text("")
    (tmp_path / os.fsdecode(b"caf\xe9.py")).write_text("")  # not UTF-8
    (tmp_path / " .py").write_text("")  # the id keeps the extension rather than be blank
    subs, skipped = _discovered(tmp_path)
    assert sorted(subs) == [" .py", "caf\\xe9", "line\\nbreak"] and not skipped
    (tmp_path / "line\\nbreak.py").write_text("")  # a real backslash: shown the same
    subs, skipped = _discovered(tmp_path)
    assert len(subs) == 3 and "same student id" in skipped["line\\nbreak.py"]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("make", ["fifo", "socket", "symlink", "dangling symlink"])
def test_special_entries_are_reported_without_being_opened(tmp_path, make):
    """A FIFO named x.zip would hang a batch that opened it: the timeout fails the test
    instead of hanging it."""
    entry = tmp_path / "x.zip"
    (tmp_path / "real").mkdir()
    if make == "fifo":
        os.mkfifo(entry)
    elif make == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(entry))
        server.close()
    else:
        entry.symlink_to(tmp_path / ("real" if make == "symlink" else "missing"))
    subs, skipped = _discovered(tmp_path)
    assert list(subs) == ["real"]
    expected = {"fifo": "FIFO", "socket": "socket"}.get(make, "symbolic link")
    assert expected in skipped["x.zip"] and "never" in skipped["x.zip"]


@pytest.mark.timeout(20)
def test_grading_a_fifo_gives_an_error_row_instead_of_hanging(tmp_path):
    os.mkfifo(tmp_path / "x.zip")
    with pytest.raises(ValueError, match="not a regular file"):
        extract_zip(tmp_path / "x.zip", tmp_path / "out")
    outcome = BatchGrader(LAB, tmp_path / "out").grade(Submission("x", tmp_path / "x.zip"))
    assert outcome.result.status == "error" and "FIFO" in outcome.result.error


def test_a_batch_refuses_two_submissions_with_one_id(tmp_path):
    subs = [Submission("a", tmp_path / "a.py"), Submission("a", tmp_path / "a.zip")]
    with pytest.raises(ValueError, match="share the student_id 'a'"):
        BatchGrader(LAB, tmp_path / "out").run(subs, show_progress=False)
    with pytest.raises(ValueError, match="must not be blank"):
        Submission(" ", tmp_path)


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
        if (expected.needs_bwrap and not bwrap_works()) or \
                (expected.needs_cgroup and not cgroups_work()):
            continue
        assert float(rows[case]["score"]) == pytest.approx(expected.score), rows[case]
    assert float(rows["honest0"]["score"]) == float(rows["honest1"]["score"]) == FULL
    assert not (tmp_path / "elsewhere").exists()


def test_a_process_level_batch_checks_the_unprivileged_uid_once_up_front(monkeypatch, tmp_path):
    import grading.batch as batch

    checked = []
    monkeypatch.setattr(batch, "require_unprivileged_workers",
                        lambda spec: checked.append((spec.lab_dir, spec.isolation)))
    BatchGrader(LAB, tmp_path / "out", isolation="process")
    assert checked == [(LAB, "process")]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_class_with_awkward_names_is_graded_end_to_end_and_resumes(tmp_path):
    """Ids like flags, a folder named like an archive, a long name with spaces and accents, all
    graded; a FIFO, a link and a hidden file named on the terminal and in skipped.csv; a rerun
    takes every row from the cache and writes the same gradebook."""
    folder = tmp_path / "class"
    long_name = "Zoë Müller " + "x" * 190
    write_submission(REFERENCE + "# 1\n", folder / "-x")
    (folder / "--help.py").write_text(REFERENCE + "# 2\n")
    write_submission(REFERENCE + "# 3\n", folder / "alice.zip")
    (folder / f"{long_name}.py").write_text(REFERENCE + "# 4\n")
    (folder / ".hidden.py").write_text(REFERENCE)
    os.mkfifo(folder / "x.zip")
    (folder / "link.py").symlink_to(folder / "--help.py")
    first = subprocess.run(_grade_cmd(folder, tmp_path / "out"), capture_output=True,
                           text=True, timeout=240)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for entry in (".hidden.py", "x.zip", "link.py"):
        assert f"skipped {entry}: " in first.stdout
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == sorted(["'-x", "'--help", "alice", long_name])
    assert {row["score"] for row in rows.values()} == {"10"}
    with open(tmp_path / "out" / "skipped.csv", newline="", encoding="utf-8") as f:
        assert sorted(row["entry"] for row in csv.DictReader(f)) == [".hidden.py", "link.py",
                                                                      "x.zip"]
    subs, _ = discover(folder)
    for sub in subs:
        assert (tmp_path / "out" / "submissions" / sub.folder / "results.json").is_file()
    gradebook = (tmp_path / "out" / "grades.csv").read_bytes()
    again = subprocess.run(_grade_cmd(folder, tmp_path / "out"), capture_output=True,
                           text=True, timeout=240)
    assert "4 from cache" in again.stdout, again.stdout[-3000:] + again.stderr[-3000:]
    assert (tmp_path / "out" / "grades.csv").read_bytes() == gradebook
