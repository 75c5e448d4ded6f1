"""Hidden test of the "6" cluster (5 points): the student's sample_index against their saved run.

Without answers.json (the original lab never asked for it: its students wrote k in their report)
but with a usable saved run, the question is left to a TA (a pending row). Read from the
submission's files with trusted code (json + safetensors, never unpickled; sizes,
dtypes and shapes checked before decoding, then a valid mixture); the clusters are computed
here, on the grader's MNIST sample, with the student's saved arrays. The feedback says how much
of the 6s the named cluster holds, never which cluster holds the most.
"""

import numpy as np
import pytest
from gmm_reference import flat_images, predict
from student_run import StudentRunError, read_student_run, saved_run_summary
from threadpoolctl import threadpool_limits

DIGIT = 6
EXPECTED = ("sample_index: the cluster of your saved run (answers.json's results_path) that "
            "holds the largest share of the 6s of the MNIST sample (training and test digits)")


def _six_shares(run) -> tuple[np.ndarray, str]:
    """(share of the 6s in each of the run's clusters (K,), a note on the pixel scale used)."""
    images = [flat_images(split) for split in ("train", "test")]
    X = np.concatenate([x for x, _ in images])
    y = np.concatenate([labels for _, labels in images])
    scale_note = ""
    if run.mean.max() > 1.5:  # a PCA fitted on pixels in 0..255 (the original lab's encoding)
        X = X * 255.0
        scale_note = " (your PCA was fitted on pixels in 0..255; the grader used that scale)"
    with threadpool_limits(1):
        clusters = predict((X - run.mean) @ run.components.T, run.means, run.covs, run.pi)
    counts = np.bincount(clusters[y == DIGIT], minlength=len(run.pi))
    return counts / counts.sum(), scale_note


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
        received = str(exc)
        if "answers.json" not in submission_files:
            usable, summary = saved_run_summary(submission_files)
            if usable:  # the original lab's students wrote k in their report
                credit.pending(f"{received} {summary} So this question is graded by hand: the "
                               "TA reads the cluster of the 6s that your report names and checks "
                               "it against that run.")
                return
            received += " " + summary
        credit.explain(expected="answers.json with your sample_index and the results/<run>/ "
                                "folder of a PCA run", received=received)
        raise AssertionError(received) from None
    share, scale_note = _six_shares(run)
    index, k = run.sample_index, len(share)
    if not 0 <= index < k:
        received = (f"sample_index = {index}, which is not a cluster of your run {run.run!r} "
                    f"(its clusters are numbered from 0 to {k - 1})")
    else:
        received = f"sample_index = {index}; in your run {run.run!r} cluster {index} holds "
        received += f"{share[index]:.0%} of the 6s"
        if share[index] < share.max():
            received += (f", but another cluster holds more of them ({share.max():.0%}): look "
                         "again at cluster_pca.png / cluster_tsne.png")
    credit.explain(expected=EXPECTED, received=run.note + received + scale_note)
    if not (0 <= index < k and share[index] == share.max()):
        raise AssertionError(run.note + received + scale_note)
