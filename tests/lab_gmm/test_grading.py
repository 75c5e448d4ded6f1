"""Grading lab_gmm end to end, the way a TA grades a class: every example submission of
``examples/lab_gmm`` (the reference with its saved run and answers.json, the blank stub, the
known-wrong ones, the adversarial ones, a submission in the original lab's layout) in one
``grading`` batch with two workers, each then checked against its pinned score and reason."""

from __future__ import annotations

import re
import time
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy  # noqa: F401 - imported before tracing: only the refusal is measured

from grading.examples import lab_examples

from ..example_grading import example_grading_tests
from .conftest import LAB_DIR, hidden_module

EXAMPLES = {example.name: example for example in lab_examples(LAB_DIR)}
# saved runs the six-cluster test must refuse (example -> what the refusal says)
BAD_RUNS = {"run_k20000": "K = 20000 components", "run_pi_not_normalised": "pi sums to 4000"}
WRONG_INDEX = "six_wrong_index"  # a valid run whose answers.json names the wrong cluster
SIX_TEST = 'The "6" cluster'

graded, test_reference_gets_every_autograded_point, test_example_scores_as_pinned = \
    example_grading_tests(LAB_DIR, auto_points=70.0, env={"LAB_GMM_GRADER_SEED": "0"})


def six_cluster(run) -> int:
    """The cluster of ``run`` (a student_run.StudentRun) holding the most 6s, computed as the
    hidden test computes it."""
    gmm_reference = hidden_module("gmm_reference")
    X, y = (np.concatenate(parts) for parts in zip(gmm_reference.flat_images("train"),
                                                   gmm_reference.flat_images("test"),
                                                   strict=True))
    clusters = gmm_reference.predict((X - run.mean) @ run.components.T, run.means, run.covs,
                                     run.pi)
    return int(np.bincount(clusters[y == 6], minlength=len(run.pi)).argmax())


@pytest.mark.parametrize("example", [e for e in EXAMPLES.values() if e.files
                                     and e.name not in BAD_RUNS], ids=lambda e: e.name)
def test_example_runs_name_the_six_cluster(example):
    """The saved runs shipped with examples are what the hidden test reads, and their
    sample_index is the cluster of the 6s (but in the example that pins a wrong index)."""
    run = hidden_module("student_run").read_student_run(dict(example.files))
    assert run.note == "", run.note
    assert (run.sample_index == six_cluster(run)) == (example.name != WRONG_INDEX)


@pytest.mark.parametrize("name", sorted(BAD_RUNS))
def test_bad_saved_runs_are_refused_before_any_big_allocation(name):
    """A saved GMM with K = 20000 (a 5,000 x 20,000 responsibility matrix in the grader) or
    with weights that do not sum to 1 is refused from its header or its 10 weights, at once."""
    student_run = hidden_module("student_run")
    files = dict(EXAMPLES[name].files)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(student_run.StudentRunError, match=BAD_RUNS[name]):
            student_run.read_student_run(files)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 1 << 20, f"{peak} bytes allocated to refuse {name}"


def _six_section(feedback: str) -> str:
    """The "What to fix" section of the six-cluster test in a feedback.md."""
    lines = feedback.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("### ") and SIX_TEST in line]
    assert starts, f"no section of the six-cluster test in the feedback:\n{feedback}"
    end = next((j for j in range(starts[0] + 1, len(lines)) if lines[j].startswith("#")),
               len(lines))
    return "\n".join(lines[starts[0]: end])


@pytest.mark.slow
def test_wrong_sample_index_feedback_hides_the_right_cluster(graded):
    """A student who probes sample_index and reads the feedback learns how much of the 6s the
    named cluster holds, never which cluster holds the most."""
    example = EXAMPLES[WRONG_INDEX]
    run = hidden_module("student_run").read_student_run(dict(example.files))
    right = six_cluster(run)
    assert right != run.sample_index
    result = graded[WRONG_INDEX].result
    (test,) = [t for t in result.tests if t.name.startswith(SIX_TEST)]
    section = _six_section(graded[WRONG_INDEX].feedback)
    assert test.score == 0 and f"sample_index = {run.sample_index}" in test.received
    standalone = re.compile(rf"(?<![\w.]){right}(?![\w.])")
    for text in (test.expected, test.received, section):
        assert not standalone.search(text), f"the right cluster {right} leaks in:\n{text}"


def test_missing_answers_is_reported_as_missing_with_the_saved_run_checked():
    """Without answers.json (which the original lab never asked for) the 6 test says the file is
    missing and where it goes, not that an answer is wrong, and says whether the saved run is
    usable; it names no cluster."""
    student_run = hidden_module("student_run")
    files = {name: data for name, data in EXAMPLES["reference"].files if name != "answers.json"}
    with pytest.raises(student_run.StudentRunError,
                       match=r"answers.json is missing .*next to submission.py \(README, sec"):
        student_run.read_student_run(files)
    usable, summary = student_run.saved_run_summary(files)
    assert usable and "is usable (K = 10 components in D = 50 dimensions)" in summary
    assert not re.search(r"cluster \d", summary)
    usable, summary = student_run.saved_run_summary({})
    assert not usable and "not usable either: no saved GMM" in summary
