"""The hidden performance tests' graded run (``selection_run``), driven from the grader, against
the handout's ``train.graded_run``: with the reference solution both train the same network and
weights (so the rubric calibrated on ``graded_run`` holds), and what the worker answers is
checked before it is used."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.hidden_modules import hidden_module

from .conftest import LAB_DIR


@pytest.fixture(scope="module")
def hidden():
    """The hidden tests' ``selection_run`` and ``selection_checks`` modules."""
    return (hidden_module(LAB_DIR, "selection_run"),
            hidden_module(LAB_DIR, "selection_checks"))


def test_settings_are_the_selectors_defaults(lab_module, hidden):
    run, _ = hidden
    defaults = lab_module("mnist_data_selection").DEFAULTS
    for name, value in run.SETTINGS.items():
        if name != "batch_size":
            assert defaults[name] == value, name
    assert defaults["hyper_optimizer"] == "SGD" and defaults["use_gauss_newton"]
    assert defaults["stochastic"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 3])
def test_grader_run_equals_graded_run_for_the_reference(lab_module, hidden, seed):
    run, _ = hidden
    data = lab_module("data").selection_data((6, 7)).subset(100)
    out = lab_module("train").graded_run(data.train_images, data.train_labels, data.val_images,
                                         data.val_labels, [6, 7], 10, seed)
    # in process, ``fixed`` is the lab's own modules with the reference as ``submission``
    learned = run.learned_run(lab_module, lab_module("network"), lab_module("data").normalise,
                              data, 10, seed)
    for name, value in learned.network.state_dict().items():
        torch.testing.assert_close(value, out["network"][name], rtol=0, atol=0)
    np.testing.assert_array_equal(learned.sample_weights(), out["weights"])
    assert learned.divergences == out["divergences"]


def test_hypergradient_is_checked_before_use(hidden):
    run, _ = hidden
    batch = torch.arange(4)
    good = torch.zeros(10)
    good[batch] = 1.0
    assert torch.equal(run._hypergradient([good], 10, batch), good)
    with pytest.raises(AssertionError, match=r"received shape \(20000, 1, 1\)"):
        run._hypergradient([torch.zeros(20000, 1, 1)], 10, batch)
    with pytest.raises(AssertionError, match="one tensor per hyperparameter"):
        run._hypergradient(good, 10, batch)
    with pytest.raises(AssertionError, match="outside the batch"):
        run._hypergradient([torch.ones(10)], 10, batch)
    with pytest.raises(AssertionError, match="NaN or infinite"):
        run._hypergradient([torch.full((10,), float("nan"))], 10, batch)
    with pytest.raises(AssertionError, match="received a .*Parameter"):
        run._hypergradient([torch.nn.Parameter(good)], 10, batch)
