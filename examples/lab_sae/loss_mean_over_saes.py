# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
_ensemble_loss_reference = ensemble_loss


def ensemble_loss(x, recons, consistency_weight):
    # Averages the per-SAE terms instead of adding them up: every SAE's gradient shrinks by S.
    out = _ensemble_loss_reference(x, recons, consistency_weight)
    out["loss"] = out["mse"].mean() + consistency_weight * out["consistency"].mean()
    return out
