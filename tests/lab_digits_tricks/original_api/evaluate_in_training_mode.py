# The original notebook's code (as in original_notebook.py) with one mistake:
# evaluate_model(model, test_loader) forgets model.eval(), so Dropout stays active while it
# evaluates (and BatchNorm normalises with each batch's statistics and updates its running ones).
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


def fit_model(model, loss_fn, optimizer, epochs, split=None, batch_size=64, seed=None):
    split = load_digits_split() if split is None else split  # noqa: F821
    X_train = torch.tensor(split.X_train, dtype=torch.float32)  # noqa: F821
    y_train = torch.tensor(split.y_train, dtype=torch.long)  # noqa: F821
    generator = torch.Generator().manual_seed(seed) if seed is not None else None  # noqa: F821
    train_loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size,
                              shuffle=True, generator=generator)
    val_loader = DataLoader(TensorDataset(torch.tensor(split.X_val, dtype=torch.float32),  # noqa: F821
                                          torch.tensor(split.y_val, dtype=torch.long)),  # noqa: F821
                            batch_size=32)
    train_losses, train_accuracies, val_losses, val_accuracies = [], [], [], []
    for _epoch in range(epochs):
        model.train()
        running_loss, correct, total = 0.0, 0, 0
        for inputs, labels in train_loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = loss_fn(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * labels.size(0)
            correct += (outputs.argmax(1) == labels).sum().item()
            total += labels.size(0)
        train_losses.append(running_loss / total)
        train_accuracies.append(correct / total)
        model.eval()
        val_loss = 0.0
        with torch.no_grad():  # noqa: F821
            for inputs, labels in val_loader:
                val_loss += loss_fn(model(inputs), labels).item()
        val_losses.append(val_loss / len(val_loader))
        val_accuracies.append(evaluate_model(model, val_loader))
    return {"train_losses": train_losses, "train_accuracies": train_accuracies,
            "val_losses": val_losses, "val_accuracies": val_accuracies}


def evaluate_model(model, test_loader):
    correct, total = 0, 0  # model.eval() forgotten
    with torch.no_grad():  # noqa: F821
        for inputs, labels in test_loader:
            predicted = model(inputs).argmax(1)
            correct += (predicted == labels).sum().item()
            total += labels.size(0)
    return correct / total


def evaluate_model_with_confusion_matrix(model, test_loader):
    model.eval()
    all_preds, all_labels = [], []
    with torch.no_grad():  # noqa: F821
        for inputs, labels in test_loader:
            all_preds.extend(model(inputs).argmax(1).tolist())
            all_labels.extend(labels.tolist())
    model.train()
    cm = np.zeros((10, 10), dtype=np.int64)  # noqa: F821
    for t, p in zip(all_labels, all_preds, strict=True):
        cm[t, p] += 1
    return float(np.trace(cm) / cm.sum()), cm  # noqa: F821


def evaluate_with_errors(model, test_loader):
    model.eval()
    errors, correct, total = [], 0, 0
    with torch.no_grad():  # noqa: F821
        for inputs, labels in test_loader:
            probs = torch.softmax(model(inputs), dim=1)  # noqa: F821
            predicted = probs.argmax(1)
            for i in range(len(labels)):
                if predicted[i] != labels[i]:
                    errors.append({"index": total + i, "true": int(labels[i]),
                                   "pred": int(predicted[i]),
                                   "prob": float(probs[i, predicted[i]])})
            correct += (predicted == labels).sum().item()
            total += labels.size(0)
    model.train()
    return correct / total, errors


def plot_error_samples(errors, images, max_samples=40, ncols=8):
    import matplotlib.pyplot as plt

    shown = errors[:max_samples]
    if not shown:
        return None
    fig, axes = plt.subplots((len(shown) + ncols - 1) // ncols, ncols, squeeze=False,
                             figsize=(1.4 * ncols, 2.0 * ((len(shown) + ncols - 1) // ncols)))
    for ax in axes.flat:
        ax.axis("off")
    for ax, error in zip(axes.flat, shown, strict=False):
        ax.imshow(images[error["index"]], cmap="gray_r")
        ax.set_title(f"true {error['true']}\npred {error['pred']}", fontsize=8)
    fig.tight_layout()
    return fig
