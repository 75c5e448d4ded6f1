"""The student handout: contents, exclusions, markers, leak scan, atomicity, determinism."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grading import release
from grading.labs import REPO_ROOT
from grading.leaks import looks_like_code, solution_only_names
from grading.release import LeakError, ReleaseError, build_handout, sync_stubs
from grading.solution_markers import stub_source

FIXTURE_LAB = REPO_ROOT / "tests" / "grading" / "fixture_lab"
LAB = "lab_fixture"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")
HELPER_SOLUTION = '''

def log_softmax(z):
    """Row-wise log-softmax; z : ndarray of shape (N, K)."""
    # BEGIN SOLUTION
    def _logsumexp_rows(x):
        top = x.max(axis=1, keepdims=True)
        return top + np.log(np.exp(x - top).sum(axis=1, keepdims=True))
    shifted = z - z.max(axis=1, keepdims=True)
    return z - _logsumexp_rows(z) + 0 * shifted
    # END SOLUTION
'''


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small instructor repo: the real shared code, the fixture lab as lab_fixture, and junk
    in every place the handout must leave out."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("common", "grading"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=IGNORE)
    for name in ("pyproject.toml", "requirements.txt", "README.md", "Makefile", ".gitignore"):
        shutil.copy(REPO_ROOT / name, root / name)
    shutil.copytree(FIXTURE_LAB, root / LAB, ignore=IGNORE)
    junk = ["examples/README.md", "tests/test_something.py", "bench/bench_x.py", ".ci/run",
            f"{LAB}/results/metrics.json", f"{LAB}/__pycache__/submission.cpython-311.pyc",
            "common/__pycache__/data.cpython-311.pyc", "mnist_course_labs.egg-info/PKG-INFO",
            ".pytest_cache/README.md", ".ruff_cache/CACHEDIR.TAG", ".venv/pyvenv.cfg",
            "handout/old.txt", ".data/mnist.npz"]
    for rel in junk:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("junk\n")
    return root


def build(root: Path, out: Path, **kwargs) -> release.Handout:
    return build_handout(root, out, [LAB], **kwargs)


def tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def add_to(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


# ------------------------------------------------------------------ contents


def test_handout_ships_the_student_files_and_a_generated_stub(repo, tmp_path):
    out = tmp_path / "handout"
    handout = build(repo, out)
    files = tree(out)
    solution = (repo / LAB / "instructor" / "solution.py").read_text()
    assert files[f"{LAB}/submission.py"][0].decode() == stub_source(solution, LAB)
    for rel in ("README.md", "Makefile", "pyproject.toml", "requirements.txt", ".gitignore",
                "common/data.py", "grading/pytest_plugin.py", "grading/sandbox/worker.py",
                f"{LAB}/README.md", f"{LAB}/tests/test_public.py", f"{LAB}/tests/conftest.py"):
        assert rel in files, rel
    assert handout.labs == [LAB]
    assert handout.files == len(files)
    assert handout.total_bytes == sum(len(data) for data, _ in files.values())
    assert "no leaks found" in handout.summary()


def test_handout_leaves_out_instructor_material_and_junk(repo, tmp_path):
    out = tmp_path / "handout"
    build(repo, out)
    paths = list(tree(out))
    for rel in paths:
        parts = rel.split("/")
        assert "instructor" not in parts, rel
        assert parts[0] not in {"examples", "tests", "bench", ".ci", ".venv", "handout",
                                ".data", ".pytest_cache", ".ruff_cache"}, rel
        assert not {"__pycache__", "results"} & set(parts), rel
        assert not rel.endswith(".pyc") and ".egg-info" not in rel, rel
    assert not list(out.rglob("instructor"))


def test_handout_readme_and_makefile_are_for_students(repo, tmp_path):
    out = tmp_path / "handout"
    build(repo, out)
    readme, makefile = (out / "README.md").read_text(), (out / "Makefile").read_text()
    assert f"`{LAB}`" in readme and "submission.py" in readme and "## Data" in readme
    assert "grade-one" not in readme and "examples/" not in readme
    assert f"-m pytest {LAB}/tests" in makefile
    assert "instructor command" in makefile and "bench all" not in makefile
    assert 'testpaths = ["lab_*/tests"]' in (out / "pyproject.toml").read_text()
    if shutil.which("make"):
        done = subprocess.run(["make", "-s", "demo"], cwd=out, capture_output=True, text=True)
        assert done.returncode != 0 and "not part of the student handout" in done.stderr


def test_release_is_deterministic(repo, tmp_path):
    first, second = build(repo, tmp_path / "a"), build(repo, tmp_path / "b")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert first.digest == second.digest


def test_git_checkout_ships_tracked_files_only(repo, tmp_path):
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    scratch = repo / LAB / "scratch_attempt.py"
    scratch.write_text("draft = 1\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    tracked = [p for p in repo.rglob("*") if p.is_file() and p != scratch
               and ".venv" not in p.parts]
    subprocess.run(["git", "-C", str(repo), "add", "-f", "--", *map(str, tracked)], check=True)
    handout = build(repo, tmp_path / "handout")
    files = tree(tmp_path / "handout")
    assert f"{LAB}/scratch_attempt.py" not in files
    assert f"{LAB}/tests/test_public.py" in files
    assert not [p for p in files if "instructor" in p or "__pycache__" in p or
                p.split("/")[0] in {"examples", "tests", "bench", ".ci"}]
    assert any("scratch_attempt.py" in note for note in handout.notes)


# ------------------------------------------------------------------ the handout runs


@pytest.fixture
def readable_tmp():
    """A temporary folder others may read (pytest's own are root's alone)."""
    folder = Path(tempfile.mkdtemp())
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_public_tests_and_grade_run_in_the_handout(repo, readable_tmp):
    """As a student runs them: plain processes (as a root grader's unprivileged uid, which must
    be able to read the handout: it holds nothing to hide)."""
    out = readable_tmp / "handout"
    build(repo, out)
    env = {**os.environ, "PYTHONPATH": str(out), "PYTHONDONTWRITEBYTECODE": "1"}
    where = subprocess.run([sys.executable, "-c", "import grading, common; "
                            "print(grading.__file__); print(common.__file__)"],
                           cwd=out, env=env, capture_output=True, text=True, check=True)
    assert all(line.startswith(str(out)) for line in where.stdout.split())
    done = subprocess.run([sys.executable, "-m", "pytest", f"{LAB}/tests", "-q",
                           "-p", "no:cacheprovider", "--isolation", "process"],
                          cwd=out, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # tests ran and failed: the stub is not filled in
    assert "1 failed, 1 passed" in output, output  # RunningMean() starts at 0 in the stub too
    assert "NotImplementedError" in output and f"{LAB}: softmax" in output, output
    grade = ("from pathlib import Path; from grading.public import run_public_tests; "
             f"tests, level, _, _ = run_public_tests(Path('{LAB}'), isolation='process'); "
             "print(level); [print(t.status, t.reason) for t in tests]")
    done = subprocess.run([sys.executable, "-c", grade], cwd=out, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("NotImplementedError") == 1, done.stdout
    assert not list(out.rglob("instructor"))


# ------------------------------------------------------------------ failures


def line_of(text: str, needle: str, which: int) -> int:
    """1-based number of the ``which``-th line of ``text`` whose stripped text is ``needle``."""
    return [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == needle][which]


def nested(s: str) -> tuple[str, int]:
    s = s.replace("    e = np.exp(shifted)\n", "    # BEGIN SOLUTION\n", 1)
    return s, line_of(s, "# BEGIN SOLUTION", 1)


def unterminated(s: str) -> tuple[str, int]:
    s = s.replace("    return float(a), float(b)\n    # END SOLUTION\n",
                  "    return float(a), float(b)\n", 1)
    return s, line_of(s, "# BEGIN SOLUTION", -1)


def unopened(s: str) -> tuple[str, int]:
    s += "\n# END SOLUTION\n"
    return s, len(s.splitlines())


@pytest.mark.parametrize(("mutate", "reason"), [
    (nested, "cannot nest"), (unterminated, "never closed"), (unopened, "without a matching")])
def test_bad_markers_fail_the_release_naming_file_and_line(repo, tmp_path, mutate, reason):
    solution = repo / LAB / "instructor" / "solution.py"
    text, line = mutate(solution.read_text())
    solution.write_text(text)
    with pytest.raises(ReleaseError, match=reason) as info:
        build(repo, tmp_path / "handout")
    assert f"{LAB}/instructor/solution.py:{line}:" in str(info.value)
    assert not (tmp_path / "handout").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]  # no half-built folder


def test_solution_only_helper_in_a_handout_file_fails(repo, tmp_path):
    add_to(repo / LAB / "instructor" / "solution.py", HELPER_SOLUTION)
    build(repo, tmp_path / "clean")  # the helper alone is no leak
    add_to(repo / LAB / "README.md", "\nHint: write `_logsumexp_rows(x)` first.\n")
    with pytest.raises(LeakError) as info:
        build(repo, tmp_path / "handout")
    [leak] = info.value.leaks
    assert (leak.path, leak.line, leak.kind, leak.text) == (
        f"{LAB}/README.md", 7, "solution-only name", "_logsumexp_rows")
    assert f"{LAB}/README.md:7:" in str(info.value) and "solution.py:" in leak.origin
    assert not (tmp_path / "handout").exists()


def test_leaked_solution_line_in_a_public_test_fails(repo, tmp_path):
    add_to(repo / LAB / "instructor" / "solution.py", HELPER_SOLUTION)
    add_to(repo / LAB / "tests" / "test_public.py",
           "\n\ndef _ref(x):\n    return _logsumexp_rows(x)\n")
    with pytest.raises(LeakError, match=rf"{LAB}/tests/test_public.py:\d+: solution-only"):
        build(repo, tmp_path / "handout")


def test_common_words_of_a_solution_are_not_leaks(repo, tmp_path):
    add_to(repo / LAB / "instructor" / "solution.py", HELPER_SOLUTION)
    add_to(repo / LAB / "README.md", "\nThe shifted logits give the same softmax.\n")
    build(repo, tmp_path / "handout")
    assert not looks_like_code("shifted") and looks_like_code("_logsumexp_rows")
    source = "def f(x):\n    # BEGIN SOLUTION\n    n_samples = 1\n    log_resp = 2\n" \
             "    # END SOLUTION\n"
    assert solution_only_names(source, "s.py", "def f(x):\n    pass\n", {"n_samples"}) == \
        {"log_resp": 4}


def test_allowlisted_name_is_not_a_leak(repo, tmp_path):
    add_to(repo / LAB / "instructor" / "solution.py", HELPER_SOLUTION)
    add_to(repo / LAB / "README.md", "\nUse `_logsumexp_rows`.\n")
    (repo / LAB / "instructor" / "handout_allow.txt").write_text("# hinted\n_logsumexp_rows\n")
    build(repo, tmp_path / "handout")


@pytest.mark.parametrize(("where", "text", "kind"), [
    (f"{LAB}/README.md", "\nSee test_softmax_is_stable_for_large_logits.\n", "hidden test name"),
    (f"{LAB}/tests/test_public.py", "\n# softmax stays finite\n# for logits of 1000\n",
     "hidden test title"),
    ("common/__init__.py", "\n# BEGIN SOLUTION\n", "marker"),
    (f"{LAB}/README.md", "\nNo `# END SOLUTION` here.\n", "marker"),
])
def test_hidden_tests_and_markers_in_the_handout_fail(repo, tmp_path, where, text, kind):
    add_to(repo / where, text)
    with pytest.raises(LeakError, match=rf"{where}:\d+: {kind}") as info:
        build(repo, tmp_path / "handout")
    assert "nothing was released" in str(info.value)
    assert not (tmp_path / "handout").exists()


def test_hidden_test_name_in_a_lab_summary_reaches_both_readmes(repo, tmp_path):
    readme = repo / LAB / "README.md"
    lines = readme.read_text().split("\n\n")
    lines.insert(1, "Passing test_running_mean_accumulates is the goal.")
    readme.write_text("\n\n".join(lines))
    with pytest.raises(LeakError) as info:
        build(repo, tmp_path / "handout")
    assert {leak.path for leak in info.value.leaks} == {"README.md", f"{LAB}/README.md"}
    assert {leak.text for leak in info.value.leaks} == {"test_running_mean_accumulates"}


def test_unparsable_solution_fails_the_release(repo, tmp_path):
    add_to(repo / LAB / "instructor" / "solution.py", "\ndef broken(:\n    pass\n")
    with pytest.raises(ReleaseError, match=rf"{LAB}/instructor/solution.py:\d+: cannot parse"):
        build(repo, tmp_path / "handout")


# ------------------------------------------------------------------ --out, sync, CLI


def test_non_empty_out_needs_force_and_a_failed_release_keeps_it(repo, tmp_path):
    out = tmp_path / "handout"
    out.mkdir()
    (out / "old.txt").write_text("previous\n")
    with pytest.raises(ReleaseError, match="not empty; pass --force"):
        build(repo, out)
    add_to(repo / LAB / "README.md", "\n# END SOLUTION\n")
    with pytest.raises(LeakError):
        build(repo, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    (repo / LAB / "README.md").write_text((FIXTURE_LAB / "README.md").read_text())
    build(repo, out, force=True)
    assert not (out / "old.txt").exists() and (out / LAB / "submission.py").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handout", "repo"]
    with pytest.raises(ReleaseError, match="replace the repository"):
        build_handout(repo, repo, [LAB], force=True)
    with pytest.raises(ReleaseError, match="inside a folder that ships"):
        build_handout(repo, repo / LAB / "handout", [LAB])


def test_sync_stubs_rewrites_the_committed_stub(repo):
    stub = repo / LAB / "submission.py"
    stub.write_text("stale\n")
    assert sync_stubs(repo, [LAB]) == [stub]
    solution = (repo / LAB / "instructor" / "solution.py").read_text()
    assert stub.read_text() == stub_source(solution, LAB)
    assert sync_stubs(repo, [LAB]) == []


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    release.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["release", *argv])
    return args.func(args)


def test_cli(repo, tmp_path, capsys):
    out = tmp_path / "handout"
    assert run_cli("--repo", str(repo), "--lab", LAB, "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert f"released {LAB}" in printed and "no leaks found" in printed
    assert f"{tree(out).__len__()} files" in printed
    assert run_cli("--repo", str(repo), "--lab", LAB, "--out", str(out)) == 1
    assert "--force" in capsys.readouterr().err
    assert run_cli("--repo", str(repo), "--lab", "lab_nope", "--out", str(out)) == 1
    assert "no lab folder lab_nope" in capsys.readouterr().err
    assert run_cli("--repo", str(repo), "--lab", "common", "--out", str(out)) == 1
    assert "a lab folder holds instructor/" in capsys.readouterr().err
    assert run_cli("--repo", str(repo)) == 2
    assert "needs --out" in capsys.readouterr().err
    (repo / LAB / "submission.py").write_text("stale\n")
    assert run_cli("--repo", str(repo), "--lab", LAB, "--sync-stubs") == 0
    assert f"updated {LAB}/submission.py" in capsys.readouterr().out
    solution = repo / LAB / "instructor" / "solution.py"
    text, line = unterminated(solution.read_text())
    solution.write_text(text)
    assert run_cli("--repo", str(repo), "--lab", LAB, "--out", str(tmp_path / "x")) == 1
    assert f"{LAB}/instructor/solution.py:{line}: '# BEGIN SOLUTION' is never closed" in \
        capsys.readouterr().err
