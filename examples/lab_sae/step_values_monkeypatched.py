# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
# Adversarial: topk_activation is a plain ReLU (no top-k), and the lab's probes.step_values (the
# one round trip per step of the graded run) is patched at import to compute the step with a
# hidden, correct top-k instead. The grader recomputes the first step (and secretly chosen
# others) with separate calls to the student's functions: the patch is caught.


def topk_activation(pre_acts, k):
    return torch.relu(pre_acts)


def _patch_the_probes():
    import probes

    honest_step_values = probes.step_values

    def true_topk(pre_acts, k):
        values, indices = torch.topk(pre_acts, k, dim=-1)
        return torch.zeros_like(pre_acts).scatter(-1, indices, torch.relu(values))

    def step_values(*args, **kwargs):
        broken, probes.topk_activation = probes.topk_activation, true_topk
        try:
            return honest_step_values(*args, **kwargs)
        finally:
            probes.topk_activation = broken

    probes.step_values = step_values


_patch_the_probes()
