"""First (decode) vs second (cached) load of each dataset, each in a fresh process.

Goal (foundation issue): the second load is at least 5x faster than the first.
"""

from __future__ import annotations

import os
import statistics
import tempfile

from bench.timing import time_python

LOADERS = {
    "mnist sample (train)": "from common.data import load_mnist as f; args=('sample','train')",
    "fashion-mnist (train)": "from common.data import load_fashion_mnist as f; args=('train',)",
    "sklearn digits split": "from common.data import load_digits_split as f; args=()",
}
TIMED = "{setup}\nimport time; t=time.perf_counter(); f(*args); print(time.perf_counter()-t)"


def run(quick: bool = False) -> None:
    repeats = 1 if quick else 3
    print(f"{'dataset':<24} {'first s':>8} {'second s':>9} {'ratio':>7}   (median of {repeats})")
    for name, setup in LOADERS.items():
        firsts, seconds = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "LABS_DATA_DIR": cache}
                code = TIMED.format(setup=setup)
                firsts.append(time_python(code, env))
                seconds.append(time_python(code, env))
        first, second = statistics.median(firsts), statistics.median(seconds)
        print(f"{name:<24} {first:8.3f} {second:9.3f} {first / second:6.1f}x")
