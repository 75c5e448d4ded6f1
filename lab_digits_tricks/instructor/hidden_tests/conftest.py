"""Shared fixtures of the hidden tests (grader side: trusted code only).

* ``digits``: the lab's data split, loaded here; labels that must stay secret (the test
  labels) are never sent to the worker.
* ``recording_split(with_test=...)``: a ``data.RecordingSplit`` built in the worker from the
  train / validation arrays (and test inputs with decoy labels), so a test can read back which
  fields the submission read.
* ``shortcuts``: uses of torch's own optimisers / init / BatchNorm / Dropout found in the
  submission's source, by component; ``no_shortcut(component)`` fails a test on them.
* ``compare_here``: the lab's ``compare.py`` loaded in the grader, to run torch's reference
  implementations on the same inputs.

The trusted helper module beside this file (``digits_run``: the performance runs) is made
importable; what comes back from the sandbox is checked by ``grading.received`` before use.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from common.data import load_digits_split

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

FORBIDDEN = {
    "optimizers": ("torch.optim.SGD", "torch.optim.Adam", "torch.optim.AdamW",
                   "torch.optim.Adagrad", "torch.optim.Adamax", "torch.optim.NAdam",
                   "torch.optim.RAdam", "torch.optim.RMSprop", "torch.optim.Adadelta",
                   "torch.optim.ASGD", "torch.optim.Rprop", "torch.optim.sgd",
                   "torch.optim.adam", "torch.optim.adagrad", "torch.optim._functional"),
    "init": ("torch.nn.init",),
    "batch_norm": ("torch.nn.BatchNorm1d", "torch.nn.BatchNorm2d", "torch.nn.BatchNorm3d",
                   "torch.nn.LazyBatchNorm1d", "torch.nn.SyncBatchNorm",
                   "torch.nn.modules.batchnorm", "torch.nn.functional.batch_norm",
                   "torch.batch_norm", "torch.native_batch_norm", "torch.nn.BatchNorm"),
    "dropout": ("torch.nn.Dropout", "torch.nn.Dropout1d", "torch.nn.AlphaDropout",
                "torch.nn.FeatureAlphaDropout", "torch.nn.modules.dropout",
                "torch.nn.functional.dropout", "torch.nn.functional.alpha_dropout",
                "torch.nn.functional.feature_alpha_dropout", "torch.dropout",
                "torch.alpha_dropout", "torch.feature_dropout", "torch.native_dropout"),
}


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _is_main_guard(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name) and test.left.id == "__name__")


def find_shortcuts(source: str) -> dict[str, list[str]]:
    """{component: ["line 12: torch.optim.SGD", ...]} for the forbidden library calls."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {component: [] for component in FORBIDDEN}
    tree.body = [node for node in tree.body if not _is_main_guard(node)]
    aliases: dict[str, str] = {}
    uses: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    aliases[root] = root
                uses.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                aliases[alias.asname or alias.name] = full
                uses.append((node.lineno, full))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute | ast.Name):
            parts = _dotted(node)
            if parts and parts[0] in aliases:
                uses.append((node.lineno, ".".join([aliases[parts[0]], *parts[1:]])))
    found: dict[str, list[str]] = {component: [] for component in FORBIDDEN}
    for line, name in sorted(set(uses)):
        for component, prefixes in FORBIDDEN.items():
            if any(name == p or name.startswith(p + ".") for p in prefixes):
                entry = f"line {line}: {name}"
                if entry not in found[component]:
                    found[component].append(entry)
    return found


@pytest.fixture(scope="module")
def shortcuts(submission_files) -> dict[str, list[str]]:
    source = submission_files.get("submission.py", b"").decode("utf-8", "replace")
    return find_shortcuts(source)


SHORTCUT_HINTS = {
    "optimizers": "Subclass torch.optim.Optimizer and write step() yourself with tensor "
                  "operations; use torch.optim's SGD / Adagrad / Adam only to compare "
                  "(compare.py).",
    "init": "Compute the bound yourself and fill the weight with Tensor.uniform_ (or torch.rand).",
    "batch_norm": "Compute the batch mean and variance with tensor operations (x.mean, x.var).",
    "dropout": "Draw the mask with torch.rand_like(x) and scale the kept entries yourself.",
}
WHAT = {"optimizers": "the optimisers", "init": "the initialisations",
        "batch_norm": "BatchNorm1d", "dropout": "Dropout"}


@pytest.fixture
def no_shortcut(shortcuts, credit):
    """``no_shortcut("optimizers")`` fails the test (with a hint) when the submission uses
    torch's own implementation of that component anywhere."""

    def check(component: str) -> None:
        if shortcuts[component]:
            credit.explain(hint=SHORTCUT_HINTS[component])
            raise AssertionError(f"{WHAT[component]} must be written from scratch, not taken "
                                 f"from torch; found {'; '.join(shortcuts[component])}")

    return check


@pytest.fixture(scope="session")
def digits():
    return load_digits_split()


@pytest.fixture(scope="module")
def compare_here(lab_dir: Path):
    spec = importlib.util.spec_from_file_location("lab_digits_tricks_compare_grader",
                                                  lab_dir / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def recording_split(fixed, digits):
    """``recording_split(with_test=True)``: a RecordingSplit in the worker. The test labels
    it holds are decoys (a fixed random draw), never the real ones."""

    def build(with_test: bool = True):
        decoy = np.random.default_rng(12345).integers(0, 10, len(digits.y_test))
        test = (digits.X_test, decoy) if with_test else (None, None)
        return fixed("data").RecordingSplit(digits.X_train, digits.y_train, digits.X_val,
                                            digits.y_val, *test)

    return build
