"""Hidden tests of SAEEnsemble (forward pass, initialisation, decoder norms) and of dead-feature
detection and re-initialisation."""

import pytest
import torch
from sae_reference import (
    dead_entry_masks,
    flat_images,
    forward,
    reinit_expected,
    steps_since_fired,
)
from sae_run import checked_params, param_shapes

from grading.received import describe, number, returned

D = 784


# ---- SAEEnsemble
def _random_params(S, D, L, seed):
    g = torch.Generator().manual_seed(seed)
    W_dec = torch.randn(S, L, D, generator=g)
    return {"W_enc": torch.randn(S, D, L, generator=g) / D**0.5,
            "b_enc": 2.0 + 0.1 * torch.randn(S, L, generator=g),  # positive: ReLU is moot
            "W_dec": W_dec / W_dec.norm(dim=-1, keepdim=True),
            "b_pre": 0.5 + 0.2 * torch.randn(S, D, generator=g)}


def _loaded_model(submission, params, k):
    S, D, L = params["W_enc"].shape
    model = submission.SAEEnsemble(S, D, L, k, initialize=False)
    model.load_state_dict(params)
    return model


def _outputs(value, shapes):
    """forward's (pre_acts, latents, recons), each checked against its shape."""
    if type(value) not in (tuple, list) or len(value) != 3:
        raise AssertionError(f"forward must return a tuple (pre_acts, latents, recons); got "
                             f"{describe(value)}")
    return [returned(tensor, f"forward: {name}", shape=shape)
            for name, tensor, shape in zip(("pre_acts", "latents", "recons"), value, shapes,
                                           strict=True)]


def _attribute(model, name, shape):
    """``model.<name>`` read from the worker, checked: a float tensor of ``shape``."""
    return returned(getattr(model, name), f"SAEEnsemble.{name}", shape=shape).detach()


@pytest.mark.points(8)
@pytest.mark.time_limit(30)
@pytest.mark.hint("pre_acts = (x - b_pre[s]) @ W_enc[s] + b_enc[s]; recons = latents @ "
                  "W_dec[s] + b_pre[s]. torch.bmm / torch.baddbmm (or einsum) run all SAEs "
                  "at once; x is broadcast to every SAE.")
def test_forward_matches_reference(submission):
    """SAEEnsemble.forward: pre-bias subtracted before the encoder, added after the decoder"""
    S, D, L, k = 3, 20, 12, 4
    params = _random_params(S, D, L, seed=3)
    x = torch.rand(7, D, generator=torch.Generator().manual_seed(4))
    model = _loaded_model(submission, params, k)
    pre, latents, recons = _outputs(model(x), [(S, 7, L), (S, 7, L), (S, 7, D)])
    ref_pre, ref_latents, ref_recons = forward(params, x, k)
    torch.testing.assert_close(pre.double(), ref_pre, rtol=1e-4, atol=1e-5,
                               msg="pre_acts differ from (x - b_pre[s]) @ W_enc[s] + b_enc[s]")
    torch.testing.assert_close(latents.double(), ref_latents, rtol=1e-4, atol=1e-5,
                               msg="latents differ from topk_activation(pre_acts, k)")
    no_pre_bias = forward({**params, "b_pre": torch.zeros(S, D)}, x, k)[2] + params["b_pre"][:,
                                                                                           None]
    if torch.allclose(recons.double(), no_pre_bias, atol=1e-4):
        raise AssertionError("recons match an encoder that ignores b_pre: subtract b_pre from "
                             "x before the encoder")
    torch.testing.assert_close(recons.double(), ref_recons, rtol=1e-4, atol=1e-5,
                               msg="recons differ from latents @ W_dec[s] + b_pre[s]")


@pytest.mark.points(6)
@pytest.mark.time_limit(30)
@pytest.mark.hint("nn.init.orthogonal_ on each W_dec[s] (a separate draw per SAE), normalise "
                  "the rows, copy the transpose into W_enc[s], zero both biases; all inside "
                  "torch.no_grad().")
def test_initialisation_orthogonal_tied_unit_norm(submission):
    """reset_parameters: orthonormal decoder rows, tied encoder, zero biases, SAEs differ"""
    for S, n_in, L in ((3, 30, 20), (2, 10, 16)):
        model = submission.SAEEnsemble(S, n_in, L, 4)
        shapes = {"W_enc": (S, n_in, L), "b_enc": (S, L), "W_dec": (S, L, n_in),
                  "b_pre": (S, n_in)}
        W_dec, W_enc, b_enc, b_pre = (_attribute(model, name, shapes[name])
                                      for name in ("W_dec", "W_enc", "b_enc", "b_pre"))
        norms = W_dec.norm(dim=-1)
        assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5), (
            f"decoder rows must have unit norm (S={S}, D={n_in}, L={L}); norms range "
            f"{norms.min():.4f}..{norms.max():.4f}")
        if L <= n_in:
            gram = W_dec @ W_dec.transpose(1, 2)
            eye = torch.eye(L).expand_as(gram)
            off = (gram - eye).abs().max().item()
            assert off < 1e-4, (f"with L = {L} <= D = {n_in} the decoder rows must be "
                                f"orthonormal; |W_dec W_dec^T - I| reaches {off:.3g}")
        assert torch.allclose(W_enc, W_dec.transpose(1, 2), atol=1e-6), (
            "tied initialisation: W_enc[s] must equal W_dec[s].T")
        assert not b_enc.any() and not b_pre.any(), "b_enc and b_pre must start at zero"
        assert not torch.allclose(W_dec[0], W_dec[1], atol=1e-3), (
            "every SAE needs its own random draw; SAE 0 and SAE 1 start identical")
        for name in ("W_enc", "b_enc", "W_dec", "b_pre"):
            assert returned(getattr(model, name), f"SAEEnsemble.{name}", shape=shapes[name]
                            ).requires_grad, (
                f"{name} must still be a trainable parameter after initialisation")


@pytest.mark.points(6)
@pytest.mark.time_limit(45)
@pytest.mark.hint("normalize_decoder_ divides each row W_dec[s, j] by its L2 norm (norm over "
                  "the last dimension) inside torch.no_grad(); the trainer calls it after "
                  "every optimiser step.")
def test_decoder_rows_unit_norm_after_training_steps(submission, fixed):
    """decoder rows stay within 1e-5 of unit norm after training steps"""
    g = torch.Generator().manual_seed(5)
    S, L = 2, 64
    model = submission.SAEEnsemble(S, D, L, 8, initialize=False)
    model.load_state_dict({"W_enc": torch.randn(S, D, L, generator=g) * 0.05,
                           "b_enc": torch.zeros(S, L),
                           "W_dec": torch.randn(S, L, D, generator=g) * 3.0,
                           "b_pre": torch.zeros(S, D)})
    before = _attribute(model, "W_dec", (S, L, D))
    model.normalize_decoder_()
    after = _attribute(model, "W_dec", (S, L, D))
    norms = after.norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5), (
        f"after normalize_decoder_ the row norms range {norms.min():.6f}..{norms.max():.6f}")
    torch.testing.assert_close(after, before / before.norm(dim=-1, keepdim=True), rtol=1e-5,
                               atol=1e-6, msg="normalize_decoder_ must only rescale each row")
    X = torch.from_numpy(flat_images("train")[:512])
    fixed("probes").adam_steps(model, X, steps=8, lr=1e-2)
    W_dec = checked_params(fixed("probes").parameters(model), param_shapes(S, L),
                           "after 8 training steps")["W_dec"]
    norms = W_dec.norm(dim=-1)
    worst = (norms - 1).abs().max().item()
    assert worst <= 1e-5, (f"after 8 training steps a decoder row norm is off 1 by {worst:.3g}; "
                           "it must stay within 1e-5")


# ---- dead features
S, L, K = 2, 24, 4  # the dead-feature tests


@pytest.mark.points(4)
@pytest.mark.time_limit(20)
@pytest.mark.hint("fired = (latents != 0).any(dim=1) over the batch; use torch.where to put 0 "
                  "where a feature fired and count + 1 elsewhere; return a new tensor.")
def test_update_steps_since_fired(submission):
    """update_steps_since_fired: 0 where a feature fired in the batch, +1 elsewhere"""
    g = torch.Generator().manual_seed(9)
    counter = torch.randint(0, 50, (S, L), generator=g)
    latents = torch.relu(torch.randn(S, 6, L, generator=g)) * (torch.rand(S, 6, L,
                                                                          generator=g) > 0.8)
    latents[:, :, :3] = 0.0  # features 0..2 never fire
    latents[1, 2, 5] = 1e-6  # a tiny activation is still firing
    got = returned(submission.update_steps_since_fired(counter.clone(), latents),
                   "update_steps_since_fired", shape=(S, L), dtype=None,
                   hint="Return the new counter: a tensor of counts of shape (S, L).")
    expected = steps_since_fired(counter, latents)
    wrong = (got.long() != expected).sum().item()
    assert wrong == 0, f"{wrong} of {S * L} counts differ from 0-if-fired-else-count+1"


def _setup(submission, fixed):
    """An ensemble trained for a few steps (Adam state present), some features marked dead, and
    3 inputs to choose from (fewer than the dead features of SAE 0: the choice cycles)."""
    g = torch.Generator().manual_seed(13)
    W_dec = torch.nn.functional.normalize(torch.randn(S, L, 784, generator=g), dim=-1)
    model = submission.SAEEnsemble(S, 784, L, K, initialize=False)
    model.load_state_dict({"W_enc": W_dec.transpose(1, 2).contiguous(),
                           "b_enc": torch.zeros(S, L), "W_dec": W_dec,
                           "b_pre": torch.zeros(S, 784)})
    optimizer = fixed("probes").adam_steps(model, torch.from_numpy(flat_images("train")[:256]),
                                           steps=4, lr=1e-2)
    dead = torch.zeros(S, L, dtype=torch.bool)
    dead[0, [1, 5, 6, 20]] = True
    dead[1, [0, 23]] = True
    x = torch.from_numpy(flat_images("train")[1000:1003])
    return model, optimizer, dead, x


@pytest.mark.points(6)
@pytest.mark.time_limit(60)
@pytest.mark.hint("Rank the inputs by the SAE's squared error (worst first); the j-th dead "
                  "feature takes the j-th worst input u = normalised (x_n - b_pre[s]); set "
                  "W_dec[s, j] = u, W_enc[s, :, j] = 0.2 * (mean norm of the live encoder "
                  "columns) * u, b_enc[s, j] = 0; leave every other entry alone.")
def test_reinit_touches_dead_features_only(submission, fixed):
    """reinit_dead_features_: only dead features change, toward the worst-reconstructed inputs"""
    model, optimizer, dead, x = _setup(submission, fixed)
    probes = fixed("probes")
    shapes = param_shapes(S, L)
    before = checked_params(probes.parameters(model), shapes, "before reinit_dead_features_")
    count = submission.reinit_dead_features_(model, optimizer, x, dead)
    after = checked_params(probes.parameters(model), shapes, "after reinit_dead_features_")
    masks = dead_entry_masks(dead, {name: tuple(v.shape) for name, v in before.items()})
    for name, mask in masks.items():
        changed = (after[name] != before[name]) & ~mask
        assert not changed.any(), (f"{name}: {int(changed.sum())} entries of live features (or "
                                   "of b_pre) changed; only dead features may change")
    expected = reinit_expected(before, x, dead, K)
    for name in ("W_dec", "W_enc", "b_enc"):
        m = masks[name]
        torch.testing.assert_close(after[name][m].double(), expected[name][m], rtol=1e-4,
                                   atol=1e-6, msg=f"{name} of the dead features differs from "
                                                  "the re-initialisation rule")
    count = number(count, "reinit_dead_features_'s result")
    assert count == int(dead.sum()), ("reinit_dead_features_ must return how many features it "
                                      f"re-initialised (one per dead feature); got {count:g}")


@pytest.mark.points(4)
@pytest.mark.time_limit(60)
@pytest.mark.hint("optimizer.state[param] holds 'exp_avg' and 'exp_avg_sq' of the param's "
                  "shape: set the entries of the dead features to 0 (e.g. "
                  "state['exp_avg'][s, :, j] = 0 for W_enc), nothing else.")
def test_reinit_resets_optimizer_state_of_dead_features(submission, fixed):
    """reinit_dead_features_: Adam moments of dead features reset, the others kept"""
    model, optimizer, dead, x = _setup(submission, fixed)
    probes = fixed("probes")
    shapes = param_shapes(S, L)
    before = _moments(probes.adam_moments(optimizer, model), shapes, "before")
    submission.reinit_dead_features_(model, optimizer, x, dead)
    after = _moments(probes.adam_moments(optimizer, model), shapes, "after")
    masks = dead_entry_masks(dead, shapes)
    for name, mask in masks.items():
        for moment in ("exp_avg", "exp_avg_sq"):
            old, new = before[name][moment], after[name][moment]
            still = int((new[mask] != 0).sum())
            assert still == 0, (f"{moment} of {name}: {still} entries of dead features were not"
                                " reset to 0")
            touched = int((new[~mask] != old[~mask]).sum())
            assert touched == 0, (f"{moment} of {name}: {touched} entries of live features "
                                  "changed; reset only the dead features' state")


def _moments(value, shapes, when):
    """Adam's moments by parameter name, read back from the worker and checked: each a float32
    tensor shaped like its parameter."""
    if type(value) is not dict or set(value) != set(shapes):
        raise AssertionError(f"{when} reinit_dead_features_, the optimiser must hold the state "
                             f"of {sorted(shapes)}; received {describe(value)}")
    out = {}
    for name, shape in shapes.items():
        moments = value[name] if type(value[name]) is dict else {}
        out[name] = {key: returned(moments.get(key), f"{when} reinit_dead_features_, the "
                                   f"optimiser's {key} of {name}", shape=shape,
                                   dtype=torch.float32,
                                   hint="Change the optimiser's state in place; keep its "
                                        "tensors.") for key in ("exp_avg", "exp_avg_sq")}
    return out
