# He initialisation scaled by fan_out (weight.shape[0]) instead of fan_in.


def init_he(module):
    if isinstance(module, nn.Linear):  # noqa: F821
        fan_out = module.weight.shape[0]
        bound = math.sqrt(6.0 / fan_out)  # noqa: F821
        with torch.no_grad():  # noqa: F821
            module.weight.uniform_(-bound, bound)
            module.bias.zero_()


INITS["he"] = init_he  # noqa: F821
