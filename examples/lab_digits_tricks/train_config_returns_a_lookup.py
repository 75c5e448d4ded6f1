# ruff: noqa: F821 - appended to the reference, which defines torch, nn, np and the lab's names
# Adversarial: Adam's step does nothing, and train_config (given code, edited) hands back a
# "model" that looks its inputs up among the training and validation digits (nearest
# neighbour) instead of the trained network. The grader builds and trains the network itself
# from the student's building blocks and evaluates the trained parameters with its own forward
# pass: the Adam runs do not train, and the lookup is never asked.


class Adam(Adam):
    @torch.no_grad()
    def step(self, closure=None):
        return None


class _Lookup(nn.Module):
    def __init__(self, X, y):
        super().__init__()
        self.X, self.y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)

    def forward(self, x):
        nearest = torch.cdist(torch.as_tensor(x, dtype=torch.float32), self.X).argmin(dim=1)
        return nn.functional.one_hot(self.y[nearest], 10).float() * 10.0


_honest_train_config = train_config


def train_config(config, split=None, epochs=100, seed=0):
    model, history = _honest_train_config(config, split, epochs, seed)
    if split is not None and hasattr(split, "X_val"):
        X = np.concatenate([split.X_train, split.X_val])
        y = np.concatenate([split.y_train, split.y_val])
        return _Lookup(X, y), history
    return model, history
