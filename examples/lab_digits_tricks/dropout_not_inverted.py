# "Vanilla" dropout: the kept activations are not scaled by 1 / (1 - p).


class Dropout(Dropout):  # noqa: F821
    def forward(self, x):
        if not self.training:
            return x
        return x * (torch.rand_like(x) >= self.p).to(x.dtype)  # noqa: F821
