"""Hidden test of the "6" cluster (5 points): the student's sample_index against their saved run.

Read from the submission's files with trusted code (json + safetensors, never unpickled); the
clusters are computed here, on the grader's MNIST sample, with the student's saved arrays.
"""

import numpy as np
import pytest
from gmm_reference import StudentRunError, flat_images, predict, read_student_run

DIGIT = 6


@pytest.mark.points(5)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Compare true_pca.png / true_tsne.png with cluster_pca.png / cluster_tsne.png "
                  "to find the cluster of the 6s, run grade.py with --sample_index k (it writes "
                  "answers.json), and submit answers.json and your results/<run>/ folder.")
def test_six_cluster(submission_files, credit):
    """The "6" cluster: sample_index is the cluster that holds the 6s in your saved run"""
    try:
        run = read_student_run(submission_files)
    except StudentRunError as exc:
        credit.explain(expected="answers.json with your sample_index and the results/<run>/ "
                                "folder of a PCA run", received=str(exc))
        raise AssertionError(str(exc)) from None
    images = [flat_images(split) for split in ("train", "test")]
    X = np.concatenate([x for x, _ in images])
    y = np.concatenate([labels for _, labels in images])
    scale_note = ""
    if run.mean.max() > 1.5:  # a PCA fitted on pixels in 0..255 (the original lab's encoding)
        X = X * 255.0
        scale_note = " (your PCA was fitted on pixels in 0..255; the grader used that scale)"
    try:
        clusters = predict((X - run.mean) @ run.components.T, run.means, run.covs, run.pi)
    except ValueError as exc:
        raise AssertionError(f"your saved GMM cannot be evaluated: {exc}") from None
    counts = np.bincount(clusters[y == DIGIT], minlength=len(run.pi))
    majority = int(np.argmax(counts))
    share = counts / counts.sum()
    received = (f"sample_index = {run.sample_index}; in your run {run.run!r} the 6s fall mostly "
                f"in cluster {majority} ({share[majority]:.0%} of them)")
    if 0 <= run.sample_index < len(share):
        received += f", and cluster {run.sample_index} holds {share[run.sample_index]:.0%}"
    credit.explain(expected=f"sample_index = {majority}", received=run.note + received
                   + scale_note)
    assert run.sample_index == majority, run.note + received + scale_note
