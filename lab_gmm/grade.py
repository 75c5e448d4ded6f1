"""Your checks and your performance score, as the grader computes them.

    python grade.py --results_path results/<run> --sample_index k   # a PCA run, k = the "6" cluster
    python grade.py --results_path results/<run>                    # an autoencoder run
    python grade.py --sample_index k --results_path "../results/{datetime}"  # as the original
                                                    # handout writes it: the latest run there

Prints the public tests, then the clustering of the 1,000 test digits by your saved PCA + GMM
(accuracy after matching clusters to digits, and NMI) beside scikit-learn's GaussianMixture and
KMeans on the same embedding. With --sample_index it checks that cluster k holds the 6s, records
k in answers.json (submit it with submission.py and the run folder), and writes gmm_sample.png
(your sample_from_gmm) and ddpm_sample.png (the DDPM's "6") into the run folder.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from train import read_config, resolve_run

from common.data import load_mnist
from common.seeding import seed_everything
from common.threads import set_thread_budget
from grading.scoring import Threshold

LAB_DIR = Path(__file__).resolve().parent
ANSWERS_FILE = "answers.json"
DIGIT = 6


@dataclass
class GradeConfig:
    """Settings of grade.py."""

    results_path: str = ""
    sample_index: int | None = None
    skip_tests: bool = False
    resources_dir: str | None = None


def cluster_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Accuracy after the best one-to-one matching of clusters to labels (Hungarian)."""
    counts = np.zeros((clusters.max() + 1, labels.max() + 1))
    np.add.at(counts, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(labels))


# The grader's rule for the clustering score (its rubric; a test keeps the two the same)
PERFORMANCE = Threshold("nmi", floor=0.53, target=0.56, points=30)


def scores(labels: np.ndarray, clusters: np.ndarray) -> tuple[str, str]:
    from sklearn.metrics import normalized_mutual_info_score

    return (f"{cluster_accuracy(labels, clusters):.3f}",
            f"{normalized_mutual_info_score(labels, clusters):.3f}")


def embed(run: Path, cfg, images: np.ndarray, resources: str | None):
    """Your embedding of ``images`` (N, 28, 28): your PCA, or the autoencoder's 2-D code."""
    if cfg.use_pca:
        from submission import PCA

        return PCA.from_pretrained(run / "pca").transform(images.reshape(len(images), -1))
    from load_resources import load_autoencoder
    from model import ae_encode

    return ae_encode(load_autoencoder(resources), images)


def performance_table(run: Path, cfg, resources: str | None) -> tuple[str, object, float]:
    """The table of accuracy and NMI, your GMM, and your NMI on the test digits."""
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture
    from submission import GMM

    from grading.public import format_table

    train_images, _ = load_mnist("sample", "train")
    test_images, test_labels = load_mnist("sample", "test")
    train, test = (embed(run, cfg, x.astype(np.float64), resources)
                   for x in (train_images, test_images))
    from sklearn.metrics import normalized_mutual_info_score

    gmm = GMM.from_pretrained(run / "gmm")
    clusters = gmm.predict(test)
    rows = [("your GMM", *scores(test_labels, clusters))]
    sklearn_gmm = GaussianMixture(cfg.n_components, max_iter=cfg.max_iter,
                                  random_state=cfg.seed).fit(train)
    rows.append(("sklearn GaussianMixture", *scores(test_labels, sklearn_gmm.predict(test))))
    kmeans = KMeans(cfg.n_components, n_init=1, random_state=cfg.seed).fit(train)
    rows.append(("sklearn KMeans", *scores(test_labels, kmeans.predict(test))))
    header = ("model (same embedding)", "accuracy", "NMI")
    return (format_table(header, rows), gmm,
            float(normalized_mutual_info_score(test_labels, clusters)))


def check_six_cluster(run: Path, gmm, k: int) -> bool:
    """Whether cluster ``k`` of your run holds most 6s of the sample (train + test)."""
    from submission import PCA

    pca = PCA.from_pretrained(run / "pca")
    parts = [load_mnist("sample", split) for split in ("train", "test")]
    X = np.concatenate([x.reshape(len(x), -1) for x, _ in parts]).astype(np.float64)
    y = np.concatenate([labels for _, labels in parts])
    counts = np.bincount(gmm.predict(pca.transform(X))[y == DIGIT], minlength=gmm.n_components)
    best = int(np.argmax(counts))
    share = counts / counts.sum()
    if best == k:
        print(f"OK: cluster {k} holds {share[k]:.0%} of the 6s.")
        return True
    held = f"{share[k]:.0%}" if 0 <= k < len(share) else "none (no such cluster)"
    print(f"NOT YET: cluster {k} holds {held} of the 6s; the cluster with most 6s holds "
          f"{share[best]:.0%}. Compare true_*.png with cluster_*.png again.")
    return False


def write_samples(run: Path, gmm, k: int, resources: str | None) -> None:
    from submission import PCA, sample_from_gmm

    sample_from_gmm(gmm, PCA.from_pretrained(run / "pca"), k, str(run))
    print(f"wrote {run / 'gmm_sample.png'} (your GMM, component {k})")
    from load_resources import load_ddpm
    from PIL import Image

    with Image.open(run / "gmm_sample.png") as saved:
        low, high = saved.convert("L").getextrema()
    if high - low <= 1:
        print(f"WARNING: gmm_sample.png is {'black' if high <= 1 else 'flat'} (every pixel "
              f"{low} to {high}). This lab's pixels are in [0, 1] (the original lab's were "
              "0..255): clipping them to [0, 255] and casting to uint8 makes them 0 or 1. Set "
              "`sample` to the float pixels and let the given to_uint8_image convert them "
              "(README, section 5).")

    try:
        ddpm = load_ddpm(resources)
    except Exception as exc:  # noqa: BLE001 - the DDPM is optional here; say how to get it
        print(f"ddpm_sample.png skipped: {exc}")
        return
    image = ddpm.sample([DIGIT])[0]
    Image.fromarray((image * 255).round().astype(np.uint8)).save(run / "ddpm_sample.png")
    print(f"wrote {run / 'ddpm_sample.png'} (the DDPM, class {DIGIT}, 1000 denoising steps)")


def parse_args(argv=None) -> GradeConfig:
    d = GradeConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results_path", required=True, help="a run folder written by train.py")
    parser.add_argument("--sample_index", type=int, default=d.sample_index,
                        help="the cluster of the digit 6 in your run (PCA runs)")
    parser.add_argument("--skip_tests", action="store_true", help="do not run the public tests")
    parser.add_argument("--resources_dir", default=d.resources_dir,
                        help="where load_resources.py cached its models")
    return GradeConfig(**vars(parser.parse_args(argv)))


def main(argv=None) -> dict:
    args = parse_args(argv)
    run = resolve_run(args.results_path)
    cfg = read_config(run)
    if args.sample_index is not None and not cfg.use_pca:
        raise ValueError(f"--sample_index is for PCA runs; {run} used the autoencoder. Drop "
                         "--sample_index, or grade a run of train.py --use_pca.")
    if args.sample_index is not None and not 0 <= args.sample_index < cfg.n_components:
        raise ValueError(f"--sample_index must be a cluster in 0..{cfg.n_components - 1}; "
                         f"received {args.sample_index}.")
    # One compute thread: a second one gains about 1.2x on an idle 2-core machine and loses
    # 3-5x when other programs share the cores (measured on the DDPM training and tSNE).
    set_thread_budget(1)
    seed_everything(cfg.seed)
    summary: dict = {"run": str(run)}
    if not args.skip_tests:
        from grading.public import format_test_results, run_public_tests

        public = run_public_tests(LAB_DIR)
        tests, isolation = public.tests, public.isolation
        print(f"---- public tests (isolation: {isolation}) ----")
        print(format_test_results(tests, public.notes))
        summary["public_tests_passed"] = all(t.status == "passed" for t in tests)
    print(f"---- clustering of the 1,000 test digits ({'PCA' if cfg.use_pca else 'AE'}-"
          f"{cfg.embedding_dim if cfg.use_pca else 2} embedding) ----")
    table, gmm, nmi = performance_table(run, cfg, args.resources_dir)
    print(table)
    if (cfg.use_pca, cfg.embedding_dim, cfg.n_components) == (True, 50, 10):
        summary["performance_points"] = PERFORMANCE.credit(nmi)
        print(f"performance score (estimate): {summary['performance_points']:.1f} / "
              f"{PERFORMANCE.points:g} for NMI {nmi:.3f}: full credit from {PERFORMANCE.target}, "
              f"none at or below {PERFORMANCE.floor}. The grader fits its own run with your "
              "code (train.py's pipeline, its own seed).")
    if args.sample_index is not None:
        print(f"---- the \"{DIGIT}\" cluster ----")
        summary["six_cluster_ok"] = check_six_cluster(run, gmm, args.sample_index)
        answers = {"sample_index": args.sample_index, "results_path": f"results/{run.name}"}
        (LAB_DIR / ANSWERS_FILE).write_text(json.dumps(answers, indent=2) + "\n")
        print(f"recorded sample_index = {args.sample_index} in {ANSWERS_FILE}: submit it with "
              f"submission.py and the folder {run}.")
        write_samples(run, gmm, args.sample_index, args.resources_dir)
    return summary


if __name__ == "__main__":
    main()
