# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
def reinit_dead_features_(model, optimizer, x, dead):
    # Re-initialises the weights right but leaves Adam's moments of the dead features alone.
    with torch.no_grad():
        _, _, recons = model(x)
        errors = (recons - x.unsqueeze(0)).square().sum(dim=-1)
        for s in range(model.n_saes):
            features = torch.nonzero(dead[s]).flatten()
            if len(features) == 0:
                continue
            order = torch.argsort(errors[s], descending=True, stable=True)
            chosen = x[order[torch.arange(len(features)) % len(order)]]
            centred = chosen - model.b_pre[s]
            u = centred / centred.norm(dim=-1, keepdim=True)
            alive = ~dead[s]
            scale = model.W_enc[s][:, alive].norm(dim=0).mean() if alive.any() else 1.0
            model.W_dec[s, features] = u
            model.W_enc[s][:, features] = 0.2 * scale * u.T
            model.b_enc[s, features] = 0.0
        return int(dead.sum())
