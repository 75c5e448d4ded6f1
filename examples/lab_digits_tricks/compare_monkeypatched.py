# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
# Adversarial: Adam without bias correction (as adam_no_bias_correction), and the lab's
# compare.optimizer_trajectory patched at import to step a hidden, correct Adam whenever it is
# handed this one. The grader also steps the optimiser directly, without compare.py, and the
# two ways disagree: the Adam tests fail as they should.
_correct_adam = Adam


class Adam(Adam):
    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                    state["v_max"] = torch.zeros_like(p)
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state["m"].mul_(beta1).add_(grad, alpha=1 - beta1)
                state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                v = state["v"]
                if group["amsgrad"]:
                    torch.maximum(state["v_max"], v, out=state["v_max"])
                    v = state["v_max"]
                p.addcdiv_(state["m"], v.sqrt().add_(group["eps"]), value=-group["lr"])


def _patch_compare():
    import compare

    honest = compare.optimizer_trajectory

    def optimizer_trajectory(optimizer_class, params, grads, groups=None, **options):
        if optimizer_class is globals()["Adam"]:
            optimizer_class = _correct_adam
        return honest(optimizer_class, params, grads, groups=groups, **options)

    compare.optimizer_trajectory = optimizer_trajectory


_patch_compare()
