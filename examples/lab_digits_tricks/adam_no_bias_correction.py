# Adam without bias correction: the first steps are far too small.


class Adam(Adam):  # noqa: F821
    @torch.no_grad()  # noqa: F821
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["m"] = torch.zeros_like(p)  # noqa: F821
                    state["v"] = torch.zeros_like(p)  # noqa: F821
                    state["v_max"] = torch.zeros_like(p)  # noqa: F821
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state["m"].mul_(beta1).add_(grad, alpha=1 - beta1)
                state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                v = state["v"]
                if group["amsgrad"]:
                    torch.maximum(state["v_max"], v, out=state["v_max"])  # noqa: F821
                    v = state["v_max"]
                p.addcdiv_(state["m"], v.sqrt().add_(group["eps"]), value=-group["lr"])
