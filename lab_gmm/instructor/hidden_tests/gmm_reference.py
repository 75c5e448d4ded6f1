"""Trusted helpers of the hidden tests (grader side only; never sent to the sandbox).

* :data:`ref`: the instructor solution, loaded as a module (markers removed);
* :func:`log_responsibilities` / :func:`predict`: log-space E-step on given parameters;
* :func:`cluster_accuracy`: accuracy after the best one-to-one matching of clusters to labels;
* :func:`read_student_run`: the student's saved GMM/PCA and ``sample_index`` from the
  submission's files, read with safetensors (never unpickled).
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from grading.solution_markers import reference_source

LAB_DIR = Path(__file__).resolve().parents[2]
MAX_ARTIFACT_BYTES = 20 << 20


def _load_reference() -> types.ModuleType:
    path = LAB_DIR / "instructor" / "solution.py"
    module = types.ModuleType("lab_gmm_reference")
    module.__file__ = str(path)
    exec(compile(reference_source(path.read_text(), str(path)), str(path), "exec"),
         module.__dict__)
    return module


ref = _load_reference()


def log_responsibilities(X, means, covs, pi) -> tuple[np.ndarray, np.ndarray]:
    """(log gamma (N, K), log p(x_n) (N,)) for a GMM with the given parameters.

    Raises ValueError when a covariance is not positive definite.
    """
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    log_w = np.empty((X.shape[0], len(pi)))
    with np.errstate(divide="ignore"):
        log_pi = np.log(np.asarray(pi, dtype=np.float64))
    for k in range(len(pi)):
        try:
            chol = np.linalg.cholesky(np.asarray(covs[k], dtype=np.float64))
        except np.linalg.LinAlgError:
            raise ValueError(f"covariance {k} is not positive definite") from None
        z = np.linalg.solve(chol, (X - means[k]).T)
        log_det = 2 * np.log(np.diag(chol)).sum()
        log_w[:, k] = log_pi[k] - 0.5 * (d * np.log(2 * np.pi) + log_det + (z * z).sum(0))
    log_norm = logsumexp(log_w, axis=1)
    return log_w - log_norm[:, None], log_norm


def predict(X, means, covs, pi) -> np.ndarray:
    """The most responsible component of each row of X, computed in log space."""
    return np.argmax(log_responsibilities(X, means, covs, pi)[0], axis=1)


def cluster_accuracy(labels, clusters) -> float:
    """Accuracy after mapping clusters to labels one-to-one (Hungarian matching)."""
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    counts = np.zeros((clusters.max() + 1, labels.max() + 1))
    np.add.at(counts, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(labels))


def flat_images(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST sample's ``split`` as float64 (N, 784) in [0, 1] and int labels (N,)."""
    from common.data import load_mnist

    images, labels = load_mnist("sample", split)
    return images.reshape(len(images), -1).astype(np.float64), np.asarray(labels)


class StudentRunError(ValueError):
    """The submission lacks, or has unusable, answers.json / results files; says which."""


@dataclass
class StudentRun:
    """What the student saved: the run folder, their sample_index, the GMM and PCA arrays."""

    run: str
    sample_index: int
    means: np.ndarray
    covs: np.ndarray
    pi: np.ndarray
    components: np.ndarray
    mean: np.ndarray
    note: str = ""


def _safetensors(files: dict[str, bytes], name: str) -> dict[str, np.ndarray]:
    from safetensors.numpy import load

    data = files[name]
    if len(data) > MAX_ARTIFACT_BYTES:
        raise StudentRunError(f"{name} is {len(data) >> 20} MB; a saved GMM/PCA of this lab is "
                              "well under 20 MB.")
    try:
        return {k: np.asarray(v, dtype=np.float64) for k, v in load(data).items()}
    except Exception as exc:  # noqa: BLE001 - corrupt files raise many kinds
        raise StudentRunError(f"{name} could not be read as safetensors ({exc}); re-save it "
                              "with save_pretrained.") from None


def _arrays(files, name, wanted) -> list[np.ndarray]:
    arrays = _safetensors(files, name)
    missing = [w for w in wanted if w not in arrays]
    if missing:
        raise StudentRunError(f"{name} lacks the array(s) {missing}; it has {sorted(arrays)}.")
    return [arrays[w] for w in wanted]


def read_answer(files: dict[str, bytes]) -> tuple[int, str | None]:
    """``(sample_index, results_path or None)`` from the submission's answers.json."""
    if "answers.json" not in files:
        raise StudentRunError(
            "no answers.json in the submission. Run `python grade.py --results_path "
            "results/<run> --sample_index k` (it writes answers.json), then submit answers.json "
            "and the results/<run>/ folder with submission.py.")
    try:
        answers = json.loads(files["answers.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StudentRunError(f"answers.json is not valid JSON ({exc}).") from None
    index = answers.get("sample_index") if isinstance(answers, dict) else None
    if isinstance(index, str) and index.strip().isdigit():
        index = int(index)
    if isinstance(index, bool) or not isinstance(index, int):
        raise StudentRunError(f'answers.json must hold {{"sample_index": k}} with an integer k; '
                              f"it holds {str(answers)[:200]}.")
    path = answers.get("results_path")
    return index, path if isinstance(path, str) else None


def read_student_run(files: dict[str, bytes]) -> StudentRun:
    """The student's answer and saved models; StudentRunError says what is missing."""
    index, wanted = read_answer(files)
    runs = sorted({name[: -len("gmm/gmm.safetensors")] for name in files
                   if name.endswith("gmm/gmm.safetensors")})
    with_pca = [r for r in runs if f"{r}pca/pca.safetensors" in files]
    if not runs:
        raise StudentRunError(
            "no saved GMM in the submission (expected results/<run>/gmm/gmm.safetensors). Submit "
            "the results/<run>/ folder that train.py --use_pca wrote.")
    if not with_pca:
        raise StudentRunError(
            f"the saved run(s) {runs} have no pca/pca.safetensors: the 6-cluster check needs a "
            "PCA run (python train.py --use_pca).")
    note = ""
    chosen = with_pca[-1]
    if wanted:
        tail = Path(wanted).name
        matches = [r for r in with_pca if Path(r.rstrip("/")).name == tail]
        if matches:
            chosen = matches[-1]
        else:
            note = (f"answers.json names {wanted!r}, which is not among the submitted PCA runs "
                    f"{with_pca}; the grader used {chosen!r}. ")
    elif len(with_pca) > 1:
        note = f"several runs were submitted ({with_pca}); the grader used the latest, {chosen!r}. "
    means, covs, pi = _arrays(files, f"{chosen}gmm/gmm.safetensors", ("means", "covs", "pi"))
    components, mean = _arrays(files, f"{chosen}pca/pca.safetensors", ("components", "mean"))
    k, d = means.shape if means.ndim == 2 else (0, 0)
    problems = []
    if means.ndim != 2 or covs.shape != (k, d, d) or pi.shape != (k,):
        problems.append(f"GMM arrays of shapes means {means.shape}, covs {covs.shape}, "
                        f"pi {pi.shape} (expected (K, D), (K, D, D), (K,))")
    if components.shape != (d, mean.shape[0]) or mean.ndim != 1:
        problems.append(f"PCA arrays of shapes components {components.shape}, mean "
                        f"{mean.shape} (expected ({d}, 784) and (784,) for a GMM with D = {d})")
    if not all(np.isfinite(a).all() for a in (means, covs, pi, components, mean)):
        problems.append("NaN or infinite values in the saved arrays")
    if problems:
        raise StudentRunError(f"the saved run {chosen!r} is unusable: " + "; ".join(problems))
    return StudentRun(chosen.rstrip("/") or ".", index, means, covs, pi, components, mean, note)
