"""Sandbox costs: fixed overhead per submission, and the RPC round trip of a 1 MB array.

* cold: start a worker (bwrap + Python + preloads), load a submission, make one call, tear down;
* warm: the same when a pre-started spare is ready (``WorkerPool``), as for every test module
  after the first, and for the next submission when one grader process grades several;
* round trip: ``echo(x)`` of a 1 MB float64 array through a real sandboxed worker.

Goals (grader-core issue): overhead <= 0.5 s per submission; round trip <= 5 ms.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from grading.rpc.client import WorkerClient
from grading.sandbox.launcher import SandboxSpec, bwrap_works
from grading.session import WorkerPool

SUBMISSION = {"submission.py": b"import numpy as np\n\ndef echo(x):\n    return x\n"}


def _one_submission(get_client) -> float:
    start = time.perf_counter()
    client = get_client()
    module = client.load_submission(SUBMISSION)
    module.echo(1)
    client.close()
    return time.perf_counter() - start


def overhead(isolation: str, preload: tuple[str, ...], warm: bool, repeats: int) -> float:
    """Median seconds per submission (start or take a worker, load, one call, teardown)."""
    spec = SandboxSpec(isolation=isolation, preload=preload)
    if not warm:
        return statistics.median(_one_submission(lambda: WorkerClient.start(spec))
                                 for _ in range(repeats))
    pool = WorkerPool(spec)
    pool.acquire().close()  # the pool now holds a started spare
    times = []
    for _ in range(repeats):
        time.sleep(3.0 if "torch" in preload else 0.6)  # the previous submission's grading time
        times.append(_one_submission(pool.acquire))
    pool.close()
    return statistics.median(times)


def roundtrip_ms(isolation: str, nbytes: int, repeats: int) -> float:
    """Median milliseconds of ``echo(x)`` for an ``nbytes`` float64 array."""
    client = WorkerClient.start(SandboxSpec(isolation=isolation))
    module = client.load_submission(SUBMISSION)
    x = np.random.default_rng(0).random(nbytes // 8)
    echo = module.echo
    for _ in range(5):
        echo(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        echo(x)
        times.append(time.perf_counter() - start)
    client.close()
    return 1000 * statistics.median(times)


def run(quick: bool = False) -> None:
    repeats = 3 if quick else 9
    levels = ["bwrap", "process"] if bwrap_works() else ["process"]
    print(f"{'isolation':<9} {'preload':<12} {'cold s':>7} {'warm s':>7}   (median of {repeats})")
    for level in levels:
        for preload in (("numpy",), ("numpy", "torch")):
            cold = overhead(level, preload, warm=False, repeats=repeats)
            warm = overhead(level, preload, warm=True, repeats=repeats)
            print(f"{level:<9} {'+'.join(preload):<12} {cold:7.3f} {warm:7.3f}")
    print()
    for level in levels:
        for nbytes in (1 << 20, 10 << 20):
            ms = roundtrip_ms(level, nbytes, repeats=20 if quick else 100)
            print(f"round trip {nbytes >> 20:>2} MB float64, {level:<7}: {ms:6.2f} ms (median)")
