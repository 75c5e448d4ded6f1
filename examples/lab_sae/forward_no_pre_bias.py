# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
def _forward_without_centring(self, x):
    # b_pre is added after the decoder but never subtracted before the encoder.
    pre_acts = torch.baddbmm(self.b_enc.unsqueeze(1), x.expand(self.n_saes, *x.shape),
                             self.W_enc)
    latents = topk_activation(pre_acts, self.k)
    recons = torch.baddbmm(self.b_pre.unsqueeze(1), latents, self.W_dec)
    return pre_acts, latents, recons


SAEEnsemble.forward = _forward_without_centring
