"""Compare the training tricks on sklearn's digits and write a results folder.

    python train.py                      # everything, 100 epochs per run (about 2 min)
    python train.py --epochs 20 --search_trials 4 --search_epochs 10   # a quick look

Runs, each with your ``train_config`` (so your inits, optimisers, layers and ``fit_model``):

* optimisers: SGD, SGD + momentum, AdaGrad, Adam (He init);
* initialisations: uniform, Xavier, He (plain SGD, where the init matters most);
* tricks: Adam alone, + BatchNorm, + L2 weight decay, + Dropout;
* a random search on the validation split, then the best configuration retrained and
  evaluated once on the test split: confusion matrix and misclassified digits.

Writes ``results/<date-time>/``: ``config.yaml`` (this run's settings), ``histories.json``
(per-epoch curves of every run), ``summary.json`` (final accuracies, the search, the best
configuration), ``misclassified.json``, ``confusion_matrix.json`` and ``best_model/``
(config.json + safetensors). Draw them with ``python visualization.py``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from submission import (
    confusion_matrix,
    evaluate_model,
    misclassified_samples,
    predict_proba,
    random_search,
    train_config,
)

from common.artifacts import new_run_folder, save_arrays
from common.cli import dataclass_parser
from common.data import load_digits_split
from common.progress import progress
from common.seeding import seed_everything
from common.threads import set_thread_budget

EXPERIMENTS = {
    "optimizers": {
        "sgd": {"optimizer": "sgd", "lr": 0.01, "init": "he"},
        "momentum": {"optimizer": "momentum", "lr": 0.01, "momentum": 0.9, "init": "he"},
        "adagrad": {"optimizer": "adagrad", "lr": 0.01, "init": "he"},
        "adam": {"optimizer": "adam", "lr": 1e-3, "init": "he"},
    },
    "inits": {
        "uniform": {"optimizer": "sgd", "lr": 0.01, "init": "uniform"},
        "xavier": {"optimizer": "sgd", "lr": 0.01, "init": "xavier"},
        "he": {"optimizer": "sgd", "lr": 0.01, "init": "he"},
    },
    "tricks": {
        "adam": {"optimizer": "adam", "lr": 1e-3, "init": "he"},
        "adam + batch norm": {"optimizer": "adam", "lr": 1e-3, "init": "he", "batch_norm": True},
        "adam + L2": {"optimizer": "adam", "lr": 1e-3, "init": "he", "weight_decay": 1e-4},
        "adam + dropout": {"optimizer": "adam", "lr": 1e-3, "init": "he", "dropout": 0.2},
    },
}
SEARCH_SPACE = {
    "optimizer": ["momentum", "adam"],
    "lr": ("loguniform", 3e-4, 3e-2),
    "weight_decay": ("loguniform", 1e-6, 1e-3),
    "init": ["xavier", "he"],
    "batch_norm": [False, True],
    "dropout": ("uniform", 0.0, 0.3),
}


@dataclass
class TrainArgs:
    """Settings of one ``train.py`` run (every field is a command-line flag)."""

    epochs: int = 100
    search_trials: int = 10
    search_epochs: int = 30
    seed: int = 0
    results_path: str = "results"
    threads: int = 1


HELP = {
    "epochs": "epochs of every comparison run and of the final retraining",
    "search_trials": "configurations tried by the random search (scored on validation)",
    "search_epochs": "epochs of each random-search trial",
    "seed": "seed of every run (torch init, shuffling, dropout masks) and of the search",
    "results_path": "folder under which results/<date-time>/ is created",
    "threads": "CPU threads for torch (1 is fastest for this small network)",
}


def parse_args(argv: list[str] | None = None) -> TrainArgs:
    parser = dataclass_parser(TrainArgs, HELP, __doc__.split("\n\n")[0])
    args = TrainArgs(**vars(parser.parse_args(argv)))
    for name in ("epochs", "search_trials", "search_epochs", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1; received {getattr(args, name)}.")
    return args


def run_experiments(split, args: TrainArgs) -> tuple[dict, dict]:
    """Every run of EXPERIMENTS (identical configs trained once) -> (histories, finals)."""
    histories: dict[str, dict] = {group: {} for group in EXPERIMENTS}
    finals: dict[str, dict] = {group: {} for group in EXPERIMENTS}
    done: dict[str, tuple[dict, dict]] = {}
    runs = [(group, name, cfg) for group, named in EXPERIMENTS.items()
            for name, cfg in named.items()]
    bar = progress(runs, desc="comparisons", unit="run")
    loss_fn = torch.nn.CrossEntropyLoss()
    for group, name, config in bar:
        key = json.dumps(config, sort_keys=True)
        if key not in done:
            model, history = train_config(config, split, args.epochs, seed=args.seed)
            test_loss, test_acc = evaluate_model(model, split.X_test, split.y_test, loss_fn)
            final = {"val_acc": history["val_acc"][-1], "val_loss": history["val_loss"][-1],
                     "test_acc": test_acc, "test_loss": test_loss, "config": config}
            done[key] = (history, final)
        histories[group][name], finals[group][name] = done[key]
        bar.set_postfix(run=f"{group}/{name}", test_acc=f"{finals[group][name]['test_acc']:.3f}")
    return histories, finals


def final_model(split, best_config: dict, args: TrainArgs) -> dict:
    """Retrain ``best_config`` for ``args.epochs`` and evaluate it once on the test split."""
    model, history = train_config(best_config, split, args.epochs, seed=args.seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    test_loss, test_acc = evaluate_model(model, split.X_test, split.y_test, loss_fn)
    pred = predict_proba(model, split.X_test).argmax(axis=1)
    return {"model": model, "history": history, "test_acc": test_acc, "test_loss": test_loss,
            "confusion": confusion_matrix(split.y_test, pred),
            "misclassified": misclassified_samples(model, split.X_test, split.y_test)}


def _jsonable(value):
    """numpy scalars and arrays (as a submission may return them) as plain JSON values."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write a {type(value).__name__} to JSON: {value!r:.60}")


def save_results(folder: Path, args: TrainArgs, histories: dict, summary: dict,
                 final: dict) -> None:
    settings = {"args": asdict(args), "experiments": EXPERIMENTS,
                "search_space": {k: list(v) if isinstance(v, tuple) else v
                                 for k, v in SEARCH_SPACE.items()}}
    (folder / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    for name, value in (("histories", histories), ("summary", summary),
                        ("misclassified", final["misclassified"]),
                        ("confusion_matrix", np.asarray(final["confusion"]).tolist())):
        (folder / f"{name}.json").write_text(json.dumps(value, indent=1, default=_jsonable))
    state = {k: v.detach().cpu().numpy() for k, v in final["model"].state_dict().items()}
    save_arrays(folder / "best_model", "best_model", state, summary["best_config"], "MLP")


def print_table(finals: dict, summary: dict) -> None:
    print(f"\n{'group':<11} {'run':<19} {'val acc':>8} {'test acc':>9}")
    for group, runs in finals.items():
        for name, final in runs.items():
            print(f"{group:<11} {name:<19} {final['val_acc']:8.3f} {final['test_acc']:9.3f}")
    print(f"{'search':<11} {'best of ' + str(len(summary['search'])):<19} "
          f"{summary['best_search_val_acc']:8.3f} {summary['best_test_acc']:9.3f}")
    print(f"best configuration: {summary['best_config']}")


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    set_thread_budget(args.threads)
    seed_everything(args.seed)
    started = time.perf_counter()
    split = load_digits_split()
    histories, finals = run_experiments(split, args)
    best_config, trials = random_search(SEARCH_SPACE, args.search_trials, seed=args.seed,
                                        split=split, epochs=args.search_epochs)
    final = final_model(split, best_config, args)
    histories["best"] = {"best": final["history"]}
    summary = {
        "finals": finals, "search": trials, "best_config": best_config,
        "best_search_val_acc": max(t["val_acc"] for t in trials),
        "best_test_acc": final["test_acc"], "best_test_loss": final["test_loss"],
        "n_misclassified": len(final["misclassified"]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    folder = new_run_folder(args.results_path)
    save_results(folder, args, histories, summary, final)
    print_table(finals, summary)
    print(f"{summary['n_misclassified']} misclassified test digits; "
          f"{summary['seconds']:.0f} s; results in {folder}")
    return folder


if __name__ == "__main__":
    main()
