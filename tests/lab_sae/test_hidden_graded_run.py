"""The hidden tests' graded run (``sae_run.GradedRun``), driven from the grader, against the
handout's ``trainer.Trainer``: with the reference solution both train the same weights (to float
rounding), and what the worker answers is checked before it is used."""

from __future__ import annotations

from dataclasses import fields

import pytest
import torch

from .conftest import load_reference, reference_lab

SMALL = {"n_saes": 2, "n_latents": 32, "k": 6, "epochs": 1, "batch_size": 64, "lr": 5e-3,
         "dead_window": 3, "dead_check_every": 2, "resample_batch": 128}


def test_defaults_are_the_trainers(lab_module, hidden_run):
    defaults = {f.name: f.default for f in fields(lab_module("trainer").TrainConfig)}
    for name, value in hidden_run.TRAINER_DEFAULTS.items():
        assert defaults[name] == value, name


@pytest.mark.parametrize(("config", "images", "atol"), [
    (SMALL, 512, 1e-6),  # 8 steps, 4 dead-feature checks that re-initialise features
    ({"n_saes": 1, "n_latents": 256, "k": 50, "epochs": 1, "batch_size": 64, "lr": 3e-3,
      "consistency_weight": 0.05}, 4000, 1e-5),  # one epoch of the graded run
], ids=["small-with-resampling", "graded-run-epoch-1"])
def test_grader_run_matches_the_trainer_for_the_reference(lab_module, hidden, hidden_run,
                                                          config, images, atol):
    torch.set_num_threads(1)
    X = hidden.flat_images("train")[:images]
    trainer = lab_module("trainer").Trainer(X, seed=3, device="cpu", **config)
    for _ in range(config["epochs"]):
        trainer.train_epoch(show_progress=False)
    graded = hidden_run.GradedRun(lab_module("submission"), lab_module, X, 3, config)
    assert graded.normalizes_rows  # the reference's normalisation is the handout's rule
    run = graded.fit()
    assert run.reinitialised == trainer.reinitialised
    assert (run.reinitialised > 0) == (config is SMALL)
    for name, value in trainer.model.named_parameters():
        torch.testing.assert_close(run.params[name], value.detach(), rtol=0, atol=atol)


def test_a_normalisation_of_its_own_is_called_at_every_step(hidden, hidden_run):
    """A normalize_decoder_ that is not the handout's rule (here: rows to norm 2) is the
    student's to keep: the grader calls it at every step, and the run still matches the
    trainer's with that submission."""
    torch.set_num_threads(1)
    submission = load_reference()

    def to_norm_two(self):
        with torch.no_grad():
            self.W_dec *= 2.0 / self.W_dec.norm(dim=-1, keepdim=True)

    submission.SAEEnsemble.normalize_decoder_ = to_norm_two
    X = hidden.flat_images("train")[:512]
    with reference_lab(submission) as lab_module:
        trainer = lab_module("trainer").Trainer(X, seed=3, device="cpu", **SMALL)
        trainer.train_epoch(show_progress=False)
        run = hidden_run.GradedRun(submission, lab_module, X, 3, SMALL)
        assert not run.normalizes_rows
        result = run.fit()
    for name, value in trainer.model.named_parameters():
        torch.testing.assert_close(result.params[name], value.detach(), rtol=0, atol=1e-6)
    rows_at_two = (result.params["W_dec"].norm(dim=-1) - 2.0).abs() < 1e-5
    assert rows_at_two.any()  # (rows re-initialised after the last normalisation are unit)


def test_parameters_are_checked_before_use(hidden_run):
    shapes = hidden_run.param_shapes(1, 4)
    good = {name: torch.zeros(shape) for name, shape in shapes.items()}
    assert set(hidden_run.checked_params(good, shapes, "now")) == set(shapes)
    with pytest.raises(AssertionError, match=r"now, W_dec .* received shape \(20000, 1, 1\)"):
        hidden_run.checked_params({**good, "W_dec": torch.zeros(20000, 1, 1)}, shapes, "now")
    with pytest.raises(AssertionError, match="exactly the parameters"):
        hidden_run.checked_params({**good, "extra": torch.zeros(1)}, shapes, "now")
    with pytest.raises(AssertionError, match="dtype torch.float64"):
        hidden_run.checked_params({**good, "b_pre": torch.zeros(1, 784, dtype=torch.float64)},
                                  shapes, "now")
    with pytest.raises(AssertionError, match="NaN or infinite"):
        hidden_run.checked_params({**good, "b_enc": torch.full((1, 4), float("inf"))}, shapes,
                                  "now")


class _AuditAt:
    """A stand-in for the grader's secret draws: the audit falls on the given steps (numbered
    from 1; the first step is always audited)."""

    def __init__(self, steps=()):
        self.steps, self.step = set(steps), 1

    def randrange(self, n):
        self.step += 1
        return 0 if self.step in self.steps else 1


def _relu_submission():
    submission = load_reference()
    submission.topk_activation = lambda pre_acts, k: torch.relu(pre_acts)
    return submission


def _true_topk(pre_acts, k):
    values, indices = torch.topk(pre_acts, k, dim=-1)
    return torch.zeros_like(pre_acts).scatter(-1, indices, torch.relu(values))


def _step_values_with_a_hidden_topk(probes, from_step=1):
    """probes.step_values as a submission could patch it: the step computed with a correct
    top-k that the submission's own ``topk_activation`` (a ReLU) is not, from ``from_step``."""
    honest, calls = probes.step_values, []

    def step_values(*args):
        calls.append(1)
        if len(calls) < from_step:
            return honest(*args)
        broken, probes.topk_activation = probes.topk_activation, _true_topk
        try:
            return honest(*args)
        finally:
            probes.topk_activation = broken

    return step_values


@pytest.mark.parametrize(("from_step", "audited", "caught_at"), [
    (1, (), 1),  # a patch from the start: caught at the first step
    (4, (6,), 6),  # honest at first: caught at the first secretly audited step after that
], ids=["from-the-start", "after-three-honest-steps"])
def test_step_values_patched_to_train_otherwise_is_caught(hidden, hidden_run, from_step,
                                                          audited, caught_at):
    torch.set_num_threads(1)
    submission = _relu_submission()
    X = hidden.flat_images("train")[:512]
    with reference_lab(submission) as lab_module:
        probes = lab_module("probes")
        probes.step_values = _step_values_with_a_hidden_topk(probes, from_step)
        run = hidden_run.GradedRun(submission, lab_module, X, 3, SMALL, audit=_AuditAt(audited))
        with pytest.raises(AssertionError, match=rf"at training step {caught_at}, probes."
                           r"step_values answered latents that differ from topk_activation"):
            run.fit()


def test_a_gradient_that_is_not_the_losss_is_caught(hidden, hidden_run):
    torch.set_num_threads(1)
    X = hidden.flat_images("train")[:512]
    with reference_lab() as lab_module:
        probes = lab_module("probes")
        honest = probes.step_values

        def doubled(*args):
            values = honest(*args)
            return {**values, "g_recons": 2 * values["g_recons"]}

        probes.step_values = doubled
        run = hidden_run.GradedRun(lab_module("submission"), lab_module, X, 3, SMALL)
        with pytest.raises(AssertionError, match="at training step 1, probes.step_values "
                           "answered g_recons that differ"):
            run.fit()


def test_probes_patched_together_to_a_gradient_of_another_loss_are_caught(hidden, hidden_run):
    """A submission whose ensemble_loss is not the one it trains with: probes.loss_gradient and
    step_values patched alike to the gradient of a plain MSE agree with each other, but not
    with the submission's own loss values (a finite difference along a secret direction)."""
    torch.set_num_threads(1)
    X = hidden.flat_images("train")[:512]
    with reference_lab() as lab_module:
        probes = lab_module("probes")
        honest = probes.step_values

        def mse_gradient(x, recons, consistency_weight):
            r = recons.detach().clone().requires_grad_(True)
            (r - x).square().mean().backward()
            return r.grad

        def step_values(x, pre_acts, k, W_dec, b_pre, weight, counter):
            values = honest(x, pre_acts, k, W_dec, b_pre, weight, counter)
            recons = torch.baddbmm(b_pre.unsqueeze(1), values["latents"], W_dec)
            return {**values, "g_recons": mse_gradient(x, recons, weight)}

        probes.loss_gradient, probes.step_values = mse_gradient, step_values
        run = hidden_run.GradedRun(lab_module("submission"), lab_module, X, 3, SMALL)
        with pytest.raises(AssertionError, match="at training step 1, the gradient of "
                           "ensemble_loss that the probes answered .* is not that of your "
                           "ensemble_loss"):
            run.fit()


def test_step_values_answers_are_checked_before_use(hidden, hidden_run):
    torch.set_num_threads(1)
    X = hidden.flat_images("train")[:512]
    with reference_lab() as lab_module:
        probes = lab_module("probes")
        for answer, message in [
                ([1, 2], r"must return a dict of tensors; received a list"),
                ({"latents": torch.zeros(20000, 1, 1)},
                 r"topk_activation .* received shape \(20000, 1, 1\)"),
                ({}, r"topk_activation must be a tensor .* received None")]:
            probes.step_values = lambda *args, answer=answer: answer
            run = hidden_run.GradedRun(lab_module("submission"), lab_module, X, 3, SMALL)
            with pytest.raises(AssertionError, match=message):
                run.fit()


def test_audits_leave_the_run_as_it_is(hidden, hidden_run):
    """Auditing every step or only the first trains the same weights (the audit's calls change
    nothing in the worker), so that the secret draws cannot break determinism."""
    torch.set_num_threads(1)
    X = hidden.flat_images("train")[:512]
    with reference_lab() as lab_module:
        runs = [hidden_run.GradedRun(lab_module("submission"), lab_module, X, 3, SMALL,
                                     audit=_AuditAt(audited)).fit()
                for audited in ((), range(2, 9))]
    for name, value in runs[0].params.items():
        assert torch.equal(value, runs[1].params[name]), name
