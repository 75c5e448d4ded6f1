"""The reference solution of lab_sae and the lab's fixed training code, checked directly."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def test_topk_exact_k_with_ties_and_relu(ref):
    x = torch.tensor([[1.0] * 8, [2.0, 2, 2, 2, 1, 1, 1, 1], [-1.0, -2, -3, 0.5, -4, -5, -6,
                                                                -7]])
    out = ref.topk_activation(x, 3)
    assert (out != 0).sum(-1).tolist() == [3, 3, 1]
    assert out[2].tolist() == [0, 0, 0, 0.5, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="k must be"):
        ref.topk_activation(x, 9)


def test_topk_gradient_mask(ref):
    x = torch.randn(5, 20, generator=torch.Generator().manual_seed(0), requires_grad=True)
    ref.topk_activation(x, 4).sum().backward()
    kept = torch.zeros_like(x, dtype=torch.bool).scatter(-1, x.topk(4, -1).indices, True)
    assert torch.equal(x.grad != 0, kept & (x > 0))


def test_forward_matches_hidden_reference(ref, hidden):
    g = torch.Generator().manual_seed(1)
    params = {"W_enc": torch.randn(3, 10, 8, generator=g), "b_enc": torch.randn(3, 8, generator=g),
              "W_dec": torch.randn(3, 8, 10, generator=g), "b_pre": torch.randn(3, 10, generator=g)}
    model = ref.SAEEnsemble(3, 10, 8, 2, initialize=False)
    model.load_state_dict(params)
    x = torch.rand(4, 10, generator=g)
    for got, expected in zip(model(x), hidden.forward(params, x, 2), strict=True):
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)


def test_initialisation(ref):
    torch.manual_seed(0)
    model = ref.SAEEnsemble(2, 30, 20, 5)
    gram = model.W_dec @ model.W_dec.transpose(1, 2)
    torch.testing.assert_close(gram, torch.eye(20).expand(2, 20, 20), atol=1e-5, rtol=0)
    assert torch.equal(model.W_enc, model.W_dec.transpose(1, 2))
    overcomplete = ref.SAEEnsemble(1, 10, 16, 4)
    torch.testing.assert_close(overcomplete.W_dec.norm(dim=-1), torch.ones(1, 16))
    with pytest.raises(ValueError, match="cannot exceed"):
        ref.SAEEnsemble(1, 10, 4, 5)


def test_loss_decomposition_and_gradient(ref, hidden):
    g = torch.Generator().manual_seed(2)
    x = torch.rand(6, 12, generator=g)
    recons = (x + 0.2 * torch.randn(4, 6, 12, generator=g)).requires_grad_(True)
    out = ref.ensemble_loss(x, recons, 0.3)
    # mean member MSE = ensemble MSE + mean consistency (bias-variance identity)
    torch.testing.assert_close(out["mse"].mean(), out["ensemble_mse"] + out["consistency"].mean())
    out["loss"].backward()
    torch.testing.assert_close(recons.grad.double(), hidden.loss_gradient(x, recons.detach(), 0.3))


def test_pearson_conventions(ref):
    x = torch.rand(3, 50, dtype=torch.float64)
    x[0] = 0.3
    y = torch.rand(3, 50, dtype=torch.float64)
    r = ref.pearson_correlation(x, y)
    assert r.dtype == torch.float64 and r[0] == 0.0
    np.testing.assert_allclose(r[1:].numpy(), [np.corrcoef(a, b)[0, 1] for a, b in
                                               zip(x[1:].numpy(), y[1:].numpy(), strict=True)])


def test_reinit_matches_hidden_reference(ref, lab_module, hidden):
    X = torch.rand(128, 784, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(0)
    model = ref.SAEEnsemble(2, 784, 16, 4)
    optimizer = lab_module("probes").adam_steps(model, X, steps=3)
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    dead = torch.zeros(2, 16, dtype=torch.bool)
    dead[0, [2, 3]] = True
    assert ref.reinit_dead_features_(model, optimizer, X[:5], dead) == 2
    expected = hidden.reinit_expected(params, X[:5], dead, 4)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.detach().double(), expected[name], rtol=1e-5, atol=1e-6)
    state = optimizer.state[model.W_dec]
    assert not state["exp_avg"][0, [2, 3]].any() and state["exp_avg"][0, 4].any()


def test_amp_path_runs_on_cpu_and_skips_an_overflowing_step(lab_module, hidden):
    """The trainer's mixed-precision step (torch.amp.autocast + torch.amp.GradScaler; the
    trainer turns it on for CUDA only) driven on the CPU: a loss scale so large that float16
    gradients overflow skips the step (weights unchanged) and halves the scale; then steps
    proceed with finite weights."""
    trainer_module = lab_module("trainer")
    X = hidden.flat_images("train")[:256]
    trainer = trainer_module.Trainer(X, n_saes=2, n_latents=32, k=6, epochs=1, device="cpu")
    assert not trainer.amp and trainer.scaler is None  # float32 on a CPU by default
    trainer.amp, trainer.scaler = True, torch.amp.GradScaler("cpu", init_scale=2.0**40)
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train_step(trainer.X[:64])
    for name, p in trainer.model.named_parameters():  # (the decoder renormalised: rounding)
        torch.testing.assert_close(p.detach(), before[name], rtol=0, atol=1e-6)
    assert trainer.scaler.get_scale() == 2.0**39
    for _ in range(30):
        trainer.train_step(trainer.X[:64])
    assert not torch.equal(trainer.model.W_enc.detach(), before["W_enc"])
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert trainer.model.W_enc.dtype == torch.float32


def test_trainer_rejects_bad_settings(lab_module):
    trainer_module = lab_module("trainer")
    with pytest.raises(ValueError, match="k = 60 cannot exceed"):
        trainer_module.TrainConfig(k=60, n_latents=50).validate()
    with pytest.raises(ValueError, match="consistency_weight"):
        trainer_module.TrainConfig(consistency_weight=-1.0).validate()
    with pytest.raises(ValueError, match="expected images"):
        trainer_module.as_images(np.zeros((3, 10)))


def test_metrics_on_perfect_and_mean_reconstructions(lab_module):
    metrics = lab_module("metrics")
    submission = __import__("submission")
    x = torch.rand(20, 784, generator=torch.Generator().manual_seed(3))
    recons = torch.stack([x, x.mean(0).expand_as(x)])
    latents = torch.zeros(2, 20, 6)
    latents[:, :, 0] = 1.0
    stats = metrics.ReconstructionStats(submission.pearson_correlation)
    stats.add(x[:7], recons[:, :7], latents[:, :7])
    stats.add(x[7:], recons[:, 7:], latents[:, 7:])
    out = stats.result()
    assert out["mse"][0] == pytest.approx(0.0, abs=1e-12)
    assert out["nmse"][1] == pytest.approx(1.0, rel=1e-6)
    assert out["fve"][0] == pytest.approx(1.0) and out["pearson"][0] == pytest.approx(1.0)
    assert out["l0"] == [1.0, 1.0] and out["dead_fraction"] == [5 / 6, 5 / 6]
    assert out["ensemble"]["mse"] < out["mse"][1]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_amp_training_on_gpu(lab_module, hidden):
    trainer_module = lab_module("trainer")
    X = hidden.flat_images("train")[:1024]
    trainer = trainer_module.Trainer(X, n_saes=3, n_latents=64, k=8, epochs=2, device="cuda")
    assert trainer.amp and isinstance(trainer.scaler, torch.amp.GradScaler)
    first = trainer.train_epoch(show_progress=False)
    second = trainer.train_epoch(show_progress=False)
    assert second["loss"] < first["loss"]
    norms = trainer.model.W_dec.detach().norm(dim=-1)
    assert (norms - 1).abs().max() < 1e-5
    assert trainer.model.W_dec.dtype == torch.float32  # autocast keeps float32 master weights
    recons = trainer.reconstruct(X[:10])
    assert recons.dtype == torch.float32 and recons.device.type == "cpu"
