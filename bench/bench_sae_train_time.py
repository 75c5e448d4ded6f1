"""lab_sae: wall time of the default ``python train.py`` (3 SAEs, 256 latents, k = 50, 100
epochs, the per-epoch evaluation included) with 1 and with 2 torch/BLAS threads, the figure the
README states.

Each side runs ``train.py --epochs E --threads T`` in a fresh interpreter, interleaved (1, 2, 1,
2, ...) so that a change of machine load hits both alike, and reads ``total_time_s`` from the
run's metrics.json; the default run's time is that figure scaled to 100 epochs (every epoch does
the same work). The machine's load average is printed with the figures: on a shared machine a
second thread competes with other processes for the cores.

    python -m bench.bench_sae_train_time --epochs 5 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent.parent / "lab_sae"
DEFAULT_EPOCHS = 100


def train_seconds(threads: int, epochs: int, results: Path) -> float:
    """``total_time_s`` of one ``train.py --epochs epochs --threads threads`` run (reference
    solution as submission.py), scaled to the default 100 epochs."""
    code = ("import sys; sys.path.insert(0, '..'); from pathlib import Path; "
            "from grading.examples import reference_lab; "
            "argv = sys.argv[1:]\n"
            "with reference_lab(Path('.')) as lab: lab('train').main(argv)")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, "-c", code, "--epochs", str(epochs), "--threads",
                    str(threads), "--results_path", str(results)], cwd=LAB_DIR, env=env,
                   check=True, capture_output=True)
    (run,) = sorted(results.iterdir())
    total = json.loads((run / "metrics.json").read_text())["total_time_s"]
    return total * DEFAULT_EPOCHS / epochs


def compare(epochs: int, repeats: int) -> None:
    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(repeats):
            for threads in times:
                folder = Path(scratch) / f"t{threads}_{round_}"
                folder.mkdir()
                times[threads].append(train_seconds(threads, epochs, folder))
                print(f"round {round_ + 1}: {threads} thread(s) {times[threads][-1]:.0f} s "
                      f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    one, two = (statistics.median(times[t]) for t in (1, 2))
    print(f"default train.py (100 epochs, from {epochs}-epoch runs), median of {repeats} on "
          f"{os.cpu_count()} cores: 1 thread {one:.0f} s, 2 threads {two:.0f} s")


def run(quick: bool = False) -> None:
    compare(epochs=2 if quick else 5, repeats=1 if quick else 3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per measured run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per thread count")
    args = parser.parse_args(argv)
    compare(args.epochs, args.repeats)


if __name__ == "__main__":
    main()
