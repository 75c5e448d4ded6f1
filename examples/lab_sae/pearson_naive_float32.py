# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
def pearson_correlation(x, y):
    # One-pass formula E[xy] - E[x]E[y] in float32: cancels catastrophically on flat rows.
    x, y = x.float(), y.float()
    cov = (x * y).mean(-1) - x.mean(-1) * y.mean(-1)
    var_x = (x * x).mean(-1) - x.mean(-1) ** 2
    var_y = (y * y).mean(-1) - y.mean(-1) ** 2
    denominator = torch.sqrt((var_x * var_y).clamp_min(0))
    r = cov / torch.where(denominator > 0, denominator, torch.ones_like(denominator))
    return torch.where(denominator > 0, r, torch.zeros_like(r)).double()
