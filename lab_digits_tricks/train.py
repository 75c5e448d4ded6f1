"""Compare the training tricks on sklearn's digits and write a results folder.

    python train.py                      # everything, 100 epochs per run (about 2 min)
    python train.py --epochs 20 --search_trials 4 --search_epochs 10   # a quick look

Runs, each with your ``train_config`` (so your inits, optimisers, layers and ``fit_model``),
compared on the **validation** split only:

* optimisers: SGD, SGD + momentum, AdaGrad, Adam (He init);
* initialisations: uniform, Xavier, He (plain SGD, where the init matters most);
* tricks: Adam alone, + BatchNorm, + L2 weight decay, + Dropout;
* the original notebook's experiments (``experiments.py``): activation histograms of deep
  Sigmoid networks (U(0, 1) under ``torch.manual_seed(42)``, Xavier, He) and the paths of your
  optimisers on ``f(x, y) = x**2 / 20 + y**2``;
* a random search in rounds, each narrowing the learning-rate and weight-decay ranges around
  the best trials of the last, for the original's final model (BatchNorm + ReLU +
  Dropout(0.2) + Adam, He init);
* that final model retrained with the chosen values and evaluated **once** on the test split
  (a DataLoader of 32): accuracy, confusion matrix, misclassified digits, model summary.

Writes ``results/<date-time>/``: ``config.yaml`` (this run's settings), ``histories.json``
(per-epoch curves of every run), ``summary.json`` (final validation accuracies, the search,
the final model's test accuracy), ``experiments.json``, ``model_summary.txt``,
``misclassified.json``, ``confusion_matrix.json`` and ``best_model/`` (config.json +
safetensors). Draw them with ``python visualization.py``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml
from experiments import activation_histograms, model_summary, optimizer_paths
from submission import (
    data_loader,
    evaluate_model,
    evaluate_model_with_confusion_matrix,
    evaluate_with_errors,
    random_search,
    train_config,
    with_short_keys,
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
# the original notebook's final model; the search picks its learning rate and weight decay
FINAL_MODEL = {"optimizer": "adam", "init": "he", "batch_norm": True, "dropout": 0.2}
SEARCH_RANGES = {"lr": (1e-4, 1e-1), "weight_decay": (1e-8, 1e-3)}  # the first round's
TEST_BATCH_SIZE = 32  # the original's test DataLoader


@dataclass
class TrainArgs:
    """Settings of one ``train.py`` run (every field is a command-line flag)."""

    epochs: int = 100
    search_rounds: int = 3
    search_trials: int = 6
    search_epochs: int = 30
    search_keep: int = 2
    seed: int = 0
    results_path: str = "results"
    threads: int = 1


HELP = {
    "epochs": "epochs of every comparison run and of the final retraining",
    "search_rounds": "rounds of the random search (each narrows the ranges of the last)",
    "search_trials": "configurations tried in each round (scored on validation)",
    "search_epochs": "epochs of each random-search trial",
    "search_keep": "the best trials of a round whose values span the next round's ranges",
    "seed": "seed of every run (torch init, shuffling, dropout masks) and of the search",
    "results_path": "folder under which results/<date-time>/ is created",
    "threads": "CPU threads for torch (1 is fastest for this small network)",
}


def parse_args(argv: list[str] | None = None) -> TrainArgs:
    parser = dataclass_parser(TrainArgs, HELP, __doc__.split("\n\n")[0])
    args = TrainArgs(**vars(parser.parse_args(argv)))
    for name in ("epochs", "search_rounds", "search_trials", "search_epochs", "search_keep",
                 "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1; received {getattr(args, name)}.")
    return args


def run_experiments(split, args: TrainArgs) -> tuple[dict, dict]:
    """Every run of EXPERIMENTS (identical configs trained once) -> (histories, finals), the
    finals holding validation metrics only: the comparisons never look at the test split."""
    histories: dict[str, dict] = {group: {} for group in EXPERIMENTS}
    finals: dict[str, dict] = {group: {} for group in EXPERIMENTS}
    done: dict[str, tuple[dict, dict]] = {}
    runs = [(group, name, cfg) for group, named in EXPERIMENTS.items()
            for name, cfg in named.items()]
    bar = progress(runs, desc="comparisons", unit="run")
    for group, name, config in bar:
        key = json.dumps(config, sort_keys=True)
        if key not in done:
            _, history = train_config(config, split, args.epochs, seed=args.seed)
            history = short_history(history)
            final = {"val_acc": history["val_acc"][-1], "val_loss": history["val_loss"][-1],
                     "config": config}
            done[key] = (history, final)
        histories[group][name], finals[group][name] = done[key]
        bar.set_postfix(run=f"{group}/{name}", val_acc=f"{finals[group][name]['val_acc']:.3f}")
    return histories, finals


def short_history(history: dict) -> dict:
    """The four per-epoch lists of a history (the original's keys or ours) under our short
    keys, as plain floats; accuracies recorded as percentages (largest value in (1, 100])
    are made fractions."""
    history = with_short_keys(history)
    out = {key: [float(v) for v in history[key]]
           for key in ("train_loss", "train_acc", "val_loss", "val_acc")}
    for key in ("train_acc", "val_acc"):
        if out[key] and 1 < max(out[key]) <= 100:
            out[key] = [v / 100 for v in out[key]]
    return out


def narrowed_ranges(trials: list[dict], keep: int) -> dict[str, tuple[float, float]]:
    """The next round's ranges: for each of SEARCH_RANGES, from the smallest to the largest
    value among the ``keep`` trials with the highest validation accuracy, widened by a factor
    of 2 on each side (log scale) and kept inside the first round's range."""
    best = sorted(trials, key=lambda t: -t["val_acc"])[:keep]
    ranges = {}
    for name, (low, high) in SEARCH_RANGES.items():
        values = [float(t["config"][name]) for t in best]
        ranges[name] = (max(low, min(values) / 2), min(high, max(values) * 2))
    return ranges


def search_rounds(split, args: TrainArgs) -> tuple[dict, list[dict], list[dict]]:
    """The random search in ``args.search_rounds`` rounds of ``args.search_trials`` trials,
    each round over the ranges narrowed by the last (validation only)
    -> (best config, every trial with its "round", the ranges of each round)."""
    ranges = dict(SEARCH_RANGES)
    trials, rounds = [], []
    for r in range(args.search_rounds):
        space = {**FINAL_MODEL, **{name: ("loguniform", low, high)
                                   for name, (low, high) in ranges.items()}}
        _, found = random_search(space, args.search_trials, seed=args.seed + 1000 * r,
                                 split=split, epochs=args.search_epochs)
        found = [{**t, "round": r + 1} for t in found]
        rounds.append({"round": r + 1, "ranges": {k: list(v) for k, v in ranges.items()},
                       "best_val_acc": max(t["val_acc"] for t in found)})
        trials += found
        ranges = narrowed_ranges(found, args.search_keep)
    best = max(range(len(trials)), key=lambda i: (trials[i]["val_acc"], -i))
    return dict(trials[best]["config"]), trials, rounds


def final_model(split, best_config: dict, args: TrainArgs) -> dict:
    """Retrain ``best_config`` for ``args.epochs`` and evaluate it once on the test split,
    with the original notebook's calls on a DataLoader of TEST_BATCH_SIZE."""
    model, history = train_config(best_config, split, args.epochs, seed=args.seed)
    test_loader = data_loader(split.X_test, split.y_test, batch_size=TEST_BATCH_SIZE)
    test_acc = float(evaluate_model(model, test_loader))
    _, confusion = evaluate_model_with_confusion_matrix(model, test_loader)
    _, errors = evaluate_with_errors(model, test_loader)
    return {"model": model, "history": short_history(history), "test_acc": test_acc,
            "confusion": confusion, "misclassified": errors,
            "model_summary": model_summary(model, batch_size=TEST_BATCH_SIZE)}


def _jsonable(value):
    """numpy scalars and arrays (as a submission may return them) as plain JSON values."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write a {type(value).__name__} to JSON: {value!r:.60}")


def save_results(folder: Path, args: TrainArgs, histories: dict, summary: dict,
                 final: dict, experiments: dict) -> None:
    settings = {"args": asdict(args), "experiments": EXPERIMENTS, "final_model": FINAL_MODEL,
                "search_ranges": {k: list(v) for k, v in SEARCH_RANGES.items()},
                "test_batch_size": TEST_BATCH_SIZE}
    (folder / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    for name, value in (("histories", histories), ("summary", summary),
                        ("experiments", experiments),
                        ("misclassified", final["misclassified"]),
                        ("confusion_matrix", np.asarray(final["confusion"]).tolist())):
        (folder / f"{name}.json").write_text(json.dumps(value, indent=1, default=_jsonable))
    (folder / "model_summary.txt").write_text(final["model_summary"] + "\n")
    state = {k: v.detach().cpu().numpy() for k, v in final["model"].state_dict().items()}
    save_arrays(folder / "best_model", "best_model", state, summary["best_config"], "MLP")


def print_table(finals: dict, summary: dict) -> None:
    print(f"\n{'group':<11} {'run':<19} {'val acc':>8}")
    for group, runs in finals.items():
        for name, final in runs.items():
            print(f"{group:<11} {name:<19} {final['val_acc']:8.3f}")
    for r in summary["search_rounds"]:
        print(f"{'search':<11} {'round ' + str(r['round']):<19} {r['best_val_acc']:8.3f}")
    print(f"chosen on validation: {summary['best_config']}")
    print(f"test accuracy of the final model (the one look at the test split): "
          f"{summary['best_test_acc']:.3f}")


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    set_thread_budget(args.threads)
    seed_everything(args.seed)
    started = time.perf_counter()
    split = load_digits_split()
    histories, finals = run_experiments(split, args)
    experiments = {"activations": activation_histograms(split.X_train),
                   "optimizer_paths": optimizer_paths()}
    best_config, trials, rounds = search_rounds(split, args)
    final = final_model(split, best_config, args)
    histories["best"] = {"final model": final["history"]}
    summary = {
        "finals": finals, "search": trials, "search_rounds": rounds,
        "best_config": best_config,
        "best_search_val_acc": max(t["val_acc"] for t in trials),
        "best_test_acc": final["test_acc"],
        "n_misclassified": len(final["misclassified"]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    folder = new_run_folder(args.results_path)
    save_results(folder, args, histories, summary, final, experiments)
    print(final["model_summary"])
    print_table(finals, summary)
    print(f"{summary['n_misclassified']} misclassified test digits; "
          f"{summary['seconds']:.0f} s; results in {folder}")
    return folder


if __name__ == "__main__":
    main()
