# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
import time as _time


def _reset_from_clock(self):
    # A private generator seeded from the clock: two runs with the same seed differ.
    generator = torch.Generator().manual_seed(_time.time_ns())
    with torch.no_grad():
        for s in range(self.n_saes):
            q, _ = torch.linalg.qr(torch.randn(self.n_inputs, self.n_latents,
                                               generator=generator))
            self.W_dec[s] = q.T[: self.n_latents] if self.n_latents <= self.n_inputs else \
                torch.randn(self.n_latents, self.n_inputs, generator=generator)
        self.W_dec /= self.W_dec.norm(dim=-1, keepdim=True)
        self.W_enc.copy_(self.W_dec.transpose(1, 2))
        self.b_enc.zero_()
        self.b_pre.zero_()


SAEEnsemble.reset_parameters = _reset_from_clock
