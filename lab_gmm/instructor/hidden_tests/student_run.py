"""The student's saved run, read from the submission's files with trusted code (grader side).

``answers.json`` (their ``sample_index``) and the GMM and PCA that ``train.py --use_pca`` saved
under ``results/<run>/`` (``gmm/gmm.safetensors``, ``pca/pca.safetensors``). Every file is checked
before it is decoded (its size; for safetensors, the header's dtypes and shapes), and the arrays
before they are used: K = 10 components in 1 <= D <= 784 dimensions, finite values, weights
``pi`` >= 0 summing to 1, symmetric positive-definite covariances. Never unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from received import gmm_problems

N_COMPONENTS = 10  # the lab's runs: train.py --n_components 10 (the default)
PIXELS = 784
MAX_ARTIFACT_BYTES = 20 << 20  # a saved GMM/PCA of this lab is well under this
MAX_HEADER_BYTES = 64 << 10  # of a safetensors file (a few arrays: well under 1 KB)
MAX_ANSWERS_BYTES = 64 << 10  # answers.json holds two short fields
FLOAT_DTYPES = ("F64", "F32")  # safetensors names; what save_pretrained writes for numpy floats


class StudentRunError(ValueError):
    """The submission lacks, or has unusable, answers.json / results files; says which."""


@dataclass
class StudentRun:
    """What the student saved: the run folder, their sample_index, the GMM and PCA arrays
    (means (K, D), covs (K, D, D), pi (K,), components (D, 784), mean (784,))."""

    run: str
    sample_index: int
    means: np.ndarray
    covs: np.ndarray
    pi: np.ndarray
    components: np.ndarray
    mean: np.ndarray
    note: str = ""


def safetensors_header(data: bytes, name: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{array name: (dtype name, shape)}`` from the JSON header of the safetensors bytes
    ``data``, read without decoding any array; StudentRunError when it is not one."""
    if len(data) > MAX_ARTIFACT_BYTES:
        raise StudentRunError(f"{name} is {len(data) >> 20} MB; a saved GMM/PCA of this lab is "
                              f"well under {MAX_ARTIFACT_BYTES >> 20} MB.")
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 0 < size <= min(MAX_HEADER_BYTES, len(data) - 8):
        raise StudentRunError(f"{name} is not a safetensors file (its {len(data)} bytes do not "
                              "start with a valid header); re-save it with save_pretrained.")
    try:
        header = json.loads(data[8: 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StudentRunError(f"{name} has an unreadable safetensors header ({exc}); re-save "
                              "it with save_pretrained.") from None
    if not isinstance(header, dict):
        raise StudentRunError(f"{name} has a safetensors header that is not a JSON object.")
    arrays = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(type(s) is int and s >= 0 for s in shape)):
            raise StudentRunError(f"{name}: the entry {str(key)[:40]!r} of its header has no "
                                  "valid shape; re-save it with save_pretrained.")
        arrays[key] = (str(info.get("dtype"))[:20], tuple(shape))
    return arrays


def _arrays(files: dict[str, bytes], name: str, wanted: dict[str, tuple[int, ...]]
            ) -> list[np.ndarray]:
    """The arrays ``wanted`` (name -> exact shape) of the safetensors file ``name``, as float64;
    their dtypes and shapes are checked in the header before anything is decoded."""
    from safetensors.numpy import load

    header = safetensors_header(files[name], name)
    missing = [w for w in wanted if w not in header]
    if missing:
        raise StudentRunError(f"{name} lacks the array(s) {missing}; it has "
                              f"{sorted(header)[:10]}.")
    problems = [f"{w} has dtype {header[w][0]}; expected a float dtype ({', '.join(FLOAT_DTYPES)})"
                for w in wanted if header[w][0] not in FLOAT_DTYPES]
    problems += [f"{w} has shape {header[w][1]}; expected {shape}"
                 for w, shape in wanted.items() if header[w][1] != shape]
    if problems:
        raise StudentRunError(f"{name}: " + "; ".join(problems) + ".")
    try:
        arrays = load(files[name])
    except Exception as exc:  # noqa: BLE001 - corrupt files raise many kinds
        raise StudentRunError(f"{name} could not be read as safetensors ({str(exc)[:200]}); "
                              "re-save it with save_pretrained.") from None
    return [np.asarray(arrays[w], dtype=np.float64) for w in wanted]


def read_answer(files: dict[str, bytes]) -> tuple[int, str | None]:
    """``(sample_index, results_path or None)`` from the submission's answers.json."""
    if "answers.json" not in files:
        raise StudentRunError(
            "answers.json is missing (a missing file, not a wrong answer): put answers.json next "
            "to submission.py (README, section 6: `python grade.py --results_path results/<run> "
            "--sample_index k` writes it) and submit it with the results/<run>/ folder.")
    data = files["answers.json"]
    if len(data) > MAX_ANSWERS_BYTES:
        raise StudentRunError(f"answers.json is {len(data)} bytes; it holds two short fields "
                              "(grade.py writes it). Submit the answers.json that grade.py wrote.")
    try:
        answers = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise StudentRunError(f"answers.json is not valid JSON ({str(exc)[:200]}).") from None
    index = answers.get("sample_index") if isinstance(answers, dict) else None
    if isinstance(index, str) and index.strip().isdigit() and len(index) < 10:
        index = int(index)
    if isinstance(index, bool) or not isinstance(index, int):
        raise StudentRunError(f'answers.json must hold {{"sample_index": k}} with an integer k; '
                              f"it holds {str(answers)[:200]}.")
    path = answers.get("results_path")
    return index, path[:300] if isinstance(path, str) else None


def _choose_run(files: dict[str, bytes], wanted: str | None) -> tuple[str, str]:
    """(the run folder prefix to grade, a note for the student about the choice)."""
    runs = sorted({name[: -len("gmm/gmm.safetensors")] for name in files
                   if name.endswith("gmm/gmm.safetensors")})
    with_pca = [r for r in runs if f"{r}pca/pca.safetensors" in files]
    if not runs:
        raise StudentRunError(
            "no saved GMM in the submission (expected results/<run>/gmm/gmm.safetensors). Submit "
            "the results/<run>/ folder that train.py --use_pca wrote.")
    if not with_pca:
        raise StudentRunError(
            f"the saved run(s) {runs[:5]} have no pca/pca.safetensors: the 6-cluster check needs "
            "a PCA run (python train.py --use_pca).")
    chosen = with_pca[-1]
    if wanted:
        tail = Path(wanted).name
        matches = [r for r in with_pca if Path(r.rstrip("/")).name == tail]
        if matches:
            return matches[-1], ""
        return chosen, (f"answers.json names {wanted!r}, which is not among the submitted PCA "
                        f"runs {with_pca[:5]}; the grader used {chosen!r}. ")
    if len(with_pca) > 1:
        return chosen, (f"several runs were submitted ({with_pca[:5]}); the grader used the "
                        f"latest, {chosen!r}. ")
    return chosen, ""


def read_student_run(files: dict[str, bytes]) -> StudentRun:
    """The student's answer and saved models, checked; StudentRunError says what is wrong."""
    index, wanted = read_answer(files)
    return _read_run(files, index, wanted)


def saved_run_summary(files: dict[str, bytes]) -> tuple[bool, str]:
    """(whether the submission's saved run is usable, that in words), read and checked as
    :func:`read_student_run` does but without answers.json (for a submission that lacks it);
    never raises."""
    try:
        run = _read_run(files, -1, None)
    except StudentRunError as exc:
        return False, f"Its saved run is not usable either: {exc}"
    k, d = run.means.shape
    return True, (f"Its saved run {run.run!r} was read and is usable (K = {k} components in "
                  f"D = {d} dimensions).")


def _read_run(files: dict[str, bytes], index: int, wanted: str | None) -> StudentRun:
    """The saved run (the one ``wanted`` names, else the latest), checked, with ``index``."""
    chosen, note = _choose_run(files, wanted)
    gmm_file, pca_file = f"{chosen}gmm/gmm.safetensors", f"{chosen}pca/pca.safetensors"
    header = safetensors_header(files[gmm_file], gmm_file)
    if "means" not in header:
        raise StudentRunError(f"{gmm_file} lacks the array 'means'; it has "
                              f"{sorted(header)[:10]}. Re-save the GMM with save_pretrained.")
    shape = header["means"][1]
    if len(shape) == 2 and shape[0] != N_COMPONENTS:
        raise StudentRunError(f"{gmm_file}: the saved GMM has K = {shape[0]} components; a run "
                              f"of this lab has K = {N_COMPONENTS} (train.py --n_components "
                              f"{N_COMPONENTS}, the default). Submit such a run.")
    k, d = N_COMPONENTS, shape[1] if len(shape) == 2 else 0
    if not 1 <= d <= PIXELS:
        raise StudentRunError(f"{gmm_file}: means has shape {shape}; expected (K, D) with "
                              f"K = {N_COMPONENTS} and 1 <= D <= {PIXELS} (the PCA dimension).")
    means, covs, pi = _arrays(files, gmm_file, {"means": (k, d), "covs": (k, d, d), "pi": (k,)})
    components, mean = _arrays(files, pca_file, {"components": (d, PIXELS), "mean": (PIXELS,)})
    named = {"means": means, "covs": covs, "pi": pi, "components": components, "mean": mean}
    bad = [name for name, a in named.items() if not np.isfinite(a).all()]
    problems = [f"NaN or infinite values in {', '.join(bad)}"] if bad else gmm_problems(
        means, covs, pi)
    if problems:
        raise StudentRunError(f"the saved run {chosen.rstrip('/')!r} is unusable: "
                              + "; ".join(problems)
                              + ". Submit the run folder that train.py wrote.")
    return StudentRun(chosen.rstrip("/") or ".", index, means, covs, pi, components, mean, note)
