"""Trust figures of the grader: the same code gets the same score on a loaded machine, and the
grader stays bounded while it grades the adversarial corpus.

* fairness: a slow-but-correct lab_gmm submission (the reference with an M-step that loops over
  samples and components, so the clustering test's EM takes tens of seconds of CPU) graded 3
  times on an idle machine and 3 times with two CPU burners on the host (one per core). Goal:
  the same score every time.
* adversarial batch: every case of the adversarial corpus (``tests/grading/adversarial``),
  graded two at a time, each in its own ``grade-one`` process as the batch does; wall time of
  the whole batch and the largest peak RSS of a grader process (the sandboxes not included).
  Goal: < 1.5 GB.
* overhead: what grading costs per submission beside the student's own work: the fixture lab's
  reference graded end to end (median of several), and the round trip of a small call.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from grading.examples import apply_patch, reference_submission, write_submission
from grading.labs import REPO_ROOT

LAB_GMM = REPO_ROOT / "lab_gmm"
FIXTURE_LAB = REPO_ROOT / "tests" / "grading" / "fixture_lab"
CORPUS = REPO_ROOT / "tests" / "grading" / "adversarial"

SLOW_M_STEP = '''
def _m_step_per_sample(self, X, gamma):
    """Right, but loops over samples and components: one outer product per pair."""
    n, d = X.shape
    nk = gamma.sum(axis=0)
    self.pi = nk / n
    self.means = (gamma.T @ X) / nk[:, None]
    covs = np.zeros((self.n_components, d, d))
    for i in range(n):
        for k in range(self.n_components):
            diff = X[i] - self.means[k]
            covs[k] += gamma[i, k] * np.outer(diff, diff)
    self.covs = covs / nk[:, None, None] + 1e-6 * np.eye(d)


GMM._m_step = _m_step_per_sample  # noqa: F821
'''

# grade-one in this process, then the grader's own peak RSS (KiB) on the last line
PEAK_RSS = ("import resource, sys\nfrom grading.cli import main\ncode = main(sys.argv[1:])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(code)\n")


def grade_one(lab: Path, submission: Path, out: Path) -> tuple[float, float, int]:
    """(score, wall seconds, the grader process's peak RSS in KiB) of one ``grade-one``."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, "grade-one", f"--lab={lab}",
                           f"--submission={submission}", f"--out={out}"],
                          capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"grade-one failed on {submission.name}: {done.stderr[-2000:]}")
    score = json.loads((out / "results.json").read_text())["score"]
    return score, seconds, int(done.stdout.strip().splitlines()[-1])


@contextmanager
def cpu_burners(n: int):
    """``n`` host processes that spin until the block ends."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(1.0)
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def fairness(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = apply_patch(reference_submission(LAB_GMM), SLOW_M_STEP)
        reference_files = {}
        for path in (REPO_ROOT / "examples" / "lab_gmm" / "reference").rglob("*"):
            if path.is_file():
                reference_files[str(path.relative_to(REPO_ROOT / "examples" / "lab_gmm"
                                                     / "reference"))] = path.read_bytes()
        files = tuple((name, data) for name, data in reference_files.items()
                      if name != "submission.py")
        submission = write_submission(source, Path(tmp) / "slow_m_step", files)
        table = {}
        for condition, burners in (("idle", 0), ("two CPU burners", 2)):
            scores, times = [], []
            for i in range(runs):
                with cpu_burners(burners):
                    score, seconds, _ = grade_one(LAB_GMM, submission,
                                                  Path(tmp) / f"out-{burners}-{i}")
                scores.append(score)
                times.append(seconds)
            table[condition] = scores
            print(f"slow M-step, {condition:<16} scores {scores}  spread "
                  f"{max(scores) - min(scores):g}  grading {statistics.median(times):.0f} s "
                  f"(median)", flush=True)
        gap = abs(statistics.median(table["idle"]) - statistics.median(table["two CPU burners"]))
        print(f"idle vs loaded: {gap:g} points apart (goal 0)")


def adversarial_batch(workers: int = 2) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    from tests.grading.test_adversarial import CASES, build_submission

    with tempfile.TemporaryDirectory() as tmp:
        cases = sorted(CASES)
        folders = {case: build_submission(case, Path(tmp) / "in" / case, OUT=str(tmp),
                                          LAB=str(FIXTURE_LAB), PORT="9", MARK="bench-mark")
                   for case in cases}

        def grade(case):
            return case, grade_one(FIXTURE_LAB, folders[case], Path(tmp) / "out" / case)

        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            results = dict(pool.map(grade, cases))
        wall = time.perf_counter() - start
    wrong = {c: r[0] for c, r in results.items() if r[0] != CASES[c].score}
    worst = max(results.items(), key=lambda item: item[1][2])
    print(f"adversarial batch: {len(cases)} cases, {workers} at a time, {wall:.0f} s wall; "
          f"largest grader peak RSS {worst[1][2] / 1024:.0f} MiB ({worst[0]}); "
          f"scores off their pins: {wrong or 'none'}")


def overhead(repeats: int) -> None:
    from grading.rpc.client import WorkerClient
    from grading.sandbox.launcher import SandboxSpec

    with tempfile.TemporaryDirectory() as tmp:
        submission = write_submission(reference_submission(FIXTURE_LAB), Path(tmp) / "ref")
        times = [grade_one(FIXTURE_LAB, submission, Path(tmp) / f"out{i}")[1]
                 for i in range(repeats)]
    print(f"fixture lab reference, grade-one end to end: {statistics.median(times):.2f} s "
          f"(median of {repeats})")
    client = WorkerClient.start(SandboxSpec(preload=()))
    echo = client.load_submission({"submission.py": b"def echo(x):\n    return x\n"}).echo
    for _ in range(20):
        echo(1)
    samples = []
    for _ in range(300):
        start = time.perf_counter()
        echo(1)
        samples.append(time.perf_counter() - start)
    client.close()
    print(f"small call round trip ({client.isolation}): "
          f"{statistics.median(samples) * 1e3:.3f} ms (median of 300)")


def run(quick: bool = False) -> None:
    overhead(3 if quick else 7)
    adversarial_batch()
    fairness(1 if quick else 3)
