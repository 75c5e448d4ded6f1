# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
# Adversarial: the firing counter comes back as a (20000, 1, 1) tensor, which would broadcast
# against the (S, L) counter into 20000 x S x L. The grader refuses it by its shape before
# computing anything with it.


def update_steps_since_fired(steps_since_fired, latents):
    fired = (latents != 0).any(dim=1)
    counts = torch.where(fired, torch.zeros_like(steps_since_fired), steps_since_fired + 1)
    return counts.reshape(-1)[:1].expand(20000).reshape(20000, 1, 1).clone()
