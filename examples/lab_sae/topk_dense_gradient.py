# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
def topk_activation(pre_acts, k):
    # Right values, but a straight-through trick lets the gradient reach every entry.
    values, indices = torch.topk(pre_acts.detach(), k, dim=-1)
    kept = torch.zeros_like(pre_acts).scatter(-1, indices, torch.relu(values))
    dense = torch.relu(pre_acts)
    return kept + dense - dense.detach()
