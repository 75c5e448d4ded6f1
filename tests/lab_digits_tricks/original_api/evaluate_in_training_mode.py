# The original notebook's code (as in original_notebook.py) with one mistake:
# evaluate_model(model, test_loader) forgets model.eval(), so Dropout stays active while it
# evaluates (and BatchNorm normalises with each batch's statistics and updates its running ones).
# (appended to original_notebook.py, itself appended to the reference: its evaluate_model
# replaces the notebook's)


def evaluate_model(model, test_loader):
    correct, total = 0, 0  # model.eval() forgotten
    with torch.no_grad():  # noqa: F821
        for inputs, labels in test_loader:
            predicted = model(inputs).argmax(1)
            correct += (predicted == labels).sum().item()
            total += labels.size(0)
    return correct / total
