# The original notebook's fit_model (original history keys, DataLoaders), but val_losses is the
# sum of the validation batches' losses: the division by len(val_loader) forgotten, so about 12
# times the mean loss. Everything else is right.
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
        val_losses.append(val_loss)  # the division by len(val_loader) forgotten
        val_accuracies.append(evaluate_model(model, val_loader))  # noqa: F821
    return {"train_losses": train_losses, "train_accuracies": train_accuracies,
            "val_losses": val_losses, "val_accuracies": val_accuracies}
