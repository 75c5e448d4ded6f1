"""Submissions written against the original GMM/PCA lab's API, graded as a TA grades them.

The original scaffold's students bring either the whole completed ``submission.py`` (its own
given code, a density-space E-step through ``_gaussian``, a sampler for pixels in 0..255, no
``answers.json``) or its method bodies pasted into this lab's stub (``*.regions``: each region's
body, and signatures such as ``path: Union[str, Path]``). Each must import and be graded with
the points its code deserves: the original's conventions (PCA-10, the optional ``1e-6 I``, the
0..255 pixel scale) graded the same as this lab's, a real mistake still caught.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

from grading.batch import BatchGrader, Submission
from grading.examples import reference_lab
from tests.lab_gmm.conftest import LAB_DIR

HERE = Path(__file__).resolve().parent
REFERENCE_RUN = LAB_DIR.parent / "examples" / "lab_gmm" / "reference"  # answers.json + results/
SIX_TEST = 'The "6" cluster'


def paste(stub: str, regions: str) -> str:
    """``stub`` with the bodies of ``regions`` in place of its NotImplementedError lines.

    ``regions``: ``### <name>`` (as in ``NotImplementedError("lab_gmm: <name>")``) then the body,
    or ``### signature <function>`` then a def line replacing that function's def line.
    """
    parts = re.split(r"^### (.+)$", regions, flags=re.M)
    for header, body in zip(parts[1::2], parts[2::2], strict=True):
        body = textwrap.dedent(body).strip("\n")
        if header.startswith("signature "):
            name = header.split()[1]
            (line,) = [x for x in stub.splitlines() if x.startswith(f"def {name}(")]
            stub = stub.replace(line, body)
            continue
        (line,) = [x for x in stub.splitlines()
                   if x.strip() == f'raise NotImplementedError("lab_gmm: {header}")']
        indent = line[: len(line) - len(line.lstrip())]
        stub = stub.replace(line, textwrap.indent(body, indent))
    return stub


def pasted_source(name: str) -> str:
    return paste((LAB_DIR / "submission.py").read_text(), (HERE / f"{name}.regions").read_text())


def test_pasted_regions_import_and_fit_in_the_stub():
    """The original's bodies and signatures, pasted into the stub, import (Union, tqdm, json, ...
    are there) and run EM on their given lines (N, D, gamma's zeros, n_soft)."""
    module = types.ModuleType("submission")
    exec(compile(pasted_source("pasted"), "submission.py", "exec"), module.__dict__)
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(60, 3)), rng.normal(size=(60, 3)) + 6.0])
    gmm = module.GMM(2, 3).fit(X, random_state=0)
    assert sorted(np.bincount(gmm.predict(X))) == [60, 60]
    pca = module.PCA(2)
    pca.fit(X)
    assert pca.components.shape == (2, 3)


def whole_file_module() -> types.ModuleType:
    module = types.ModuleType("submission")
    module.__file__ = str(HERE / "whole_file.py")
    exec(compile((HERE / "whole_file.py").read_text(), module.__file__, "exec"), module.__dict__)
    return module


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # --max_iter 5
def test_original_handout_commands_run_as_written(tmp_path, monkeypatch, capsys):
    """With the whole original submission.py, from the lab folder: `python train.py --use_pca`,
    `python visualization.py --results_path "../results/{datetime}"` (both colourings), and
    `python grade.py --sample_index k --results_path "../results/{datetime}"`, as the original
    handout writes them (fewer EM iterations, no cached models: their views are skipped)."""
    (tmp_path / "lab").mkdir()
    monkeypatch.chdir(tmp_path / "lab")
    resources = str(tmp_path / "no_resources")
    handout_path = "../results/{datetime}"
    with reference_lab(LAB_DIR, whole_file_module()) as import_module:
        run = import_module("train").main(["--use_pca", "--max_iter", "5"])
        visualization = import_module("visualization")
        monkeypatch.setattr(visualization, "tsne_embedding",
                            lambda X, cache: np.random.default_rng(0).normal(size=(len(X), 2)))
        for flags in ([], ["--cluster_label"]):
            visualization.main(["--results_path", handout_path, "--resources_dir", resources,
                                *flags])
        grade = import_module("grade")
        monkeypatch.setattr(grade, "LAB_DIR", tmp_path / "lab")
        summary = grade.main(["--sample_index", "3", "--results_path", handout_path,
                              "--skip_tests", "--resources_dir", resources])
    out = capsys.readouterr().out
    assert run.resolve().parent == tmp_path / "lab" / "results"
    assert summary["run"] == str(run) and "six_cluster_ok" in summary
    assert {p.name for p in run.glob("*.png")} >= {"true_pca.png", "cluster_pca.png",
                                                   "gmm_sample.png"}
    # its sampler clips [0, 1] pixels to [0, 255]: grade.py says why the image is black
    assert "WARNING: gmm_sample.png is black (every pixel 0 to 1)" in out


# name -> (score out of 70, {test name prefix: regex its feedback must hold}, why)
EXPECTED = {
    "whole_file": (65.0, {SIX_TEST: "answers.json is missing"},
                   "the whole original file: every code test passes (its density E-step at the "
                   "original's dimension, its 0..255 sampler); only the 6 question, whose "
                   "answers.json the original never asked for, is reported as a missing file"),
    "whole_file_with_run": (65.0, {}, "the whole original file with its saved run but no "
                                      "answers.json: the 6 question is left to a TA (pending)"),
    "pasted": (70.0, {}, "the original's bodies pasted into the stub, with the reference's run "
                         "and answers.json: full points"),
    "pasted_without_pi": (33.0, {"E-step: responsibilities": "differs from the expected",
                                 "Clustering performance": "_e_step"},
                          "pasted, but the E-step forgets pi_k: loses the E-step's value tests "
                          "(4 + 3) and the clustering (30), and nothing else"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("original_api")
    subs = []
    for name in EXPECTED:
        folder = root / "submissions" / name
        folder.mkdir(parents=True)
        if name.startswith("whole_file"):
            if name == "whole_file_with_run":
                shutil.copytree(REFERENCE_RUN, folder, dirs_exist_ok=True)
                (folder / "answers.json").unlink()
            shutil.copy(HERE / "whole_file.py", folder / "submission.py")
        else:
            shutil.copytree(REFERENCE_RUN, folder, dirs_exist_ok=True)
            (folder / "submission.py").write_text(pasted_source(name))
        subs.append(Submission(name, folder))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAB_GMM_GRADER_SEED", "0")
        grader = BatchGrader(LAB_DIR, root / "out", workers=2)
        outcomes = grader.run(subs, False)
    return {name: (outcome.result, (grader.out / "submissions" / name / "feedback.md").read_text())
            for name, outcome in outcomes.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_original_api_submission_gets_the_points_its_code_deserves(graded, name):
    score, reasons, why = EXPECTED[name]
    result, feedback = graded[name]
    lost = [f"{t.name}: {t.score}/{t.max_score} {t.reason or ''} {t.received or ''}"
            for t in result.tests if t.status != "pending" and t.score < t.max_score]
    assert result.score == score, f"{why}\nscored {result.score}; lost:\n" + "\n".join(lost)
    for prefix, pattern in reasons.items():
        (test,) = [t for t in result.tests if t.name.startswith(prefix)]
        text = " ".join(str(part) for part in (test.reason, test.received, test.expected) if part)
        assert re.search(pattern, text + feedback), f"{prefix}: {pattern!r} not in {text!r}"


@pytest.mark.slow
def test_with_its_run_and_no_answers_file_the_6_question_goes_to_a_ta(graded):
    """The original's students wrote k in their report: with a usable saved run and no
    answers.json, the 6 question is a pending row that says what the TA checks, not a 0."""
    result, feedback = graded["whole_file_with_run"]
    (six,) = [t for t in result.tests if t.name.startswith(SIX_TEST)]
    assert six.pending and six.kind == "manual" and six.max_score == 5
    assert "answers.json is missing" in six.output and "graded by hand" in six.output
    assert "is usable (K = 10" in six.output and not re.search(r"cluster \d", six.output)
    assert "pending (graded by hand)" in feedback
