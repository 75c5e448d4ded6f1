# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
def topk_activation(pre_acts, k):
    # Keeps every entry >= the k-th largest value: more than k entries when values tie.
    kth = torch.topk(pre_acts, k, dim=-1).values[..., -1:]
    return torch.where(pre_acts >= kth, torch.relu(pre_acts), torch.zeros_like(pre_acts))
