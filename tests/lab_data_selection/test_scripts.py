"""The fixed modules and scripts of lab_data_selection: network, data, model, hyper_opt, the
selector, train.py, visualization.py, grade.py, load_resources.py, check_gradients.py."""

from __future__ import annotations

import json
import types
import warnings

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(scope="module")
def full_data():
    from .conftest import reference_lab

    with reference_lab() as import_module:
        return import_module("data").selection_data((6, 7))


def test_networks_shapes_and_validation(lab_module):
    network = lab_module("network")
    x = torch.zeros(3, 28, 28)
    assert network.SimpleModel()(x).shape == (3, 10)
    mlp = network.MLP(num_layers=3, input_shape=(28, 28), inter_dim=128)
    assert mlp(x).shape == (3, 10)
    assert sum(p.numel() for p in mlp.parameters()) == 784 * 128 + 128 + 128 * 128 + 128 + 1290
    assert network.MLP(num_layers=1, input_shape=(8,), num_classes=5)(torch.zeros(2, 8)).shape \
        == (2, 5)
    with pytest.raises(ValueError, match="num_layers"):
        network.MLP(num_layers=0)
    with pytest.raises(ValueError, match="activation"):
        network.SimpleModel(activation="gelu")
    with pytest.raises(ValueError, match="network must be"):
        network.build_network("cnn")


def test_selection_data_split(full_data, lab_module):
    d = full_data
    assert (len(d.train_labels), len(d.val_labels), len(d.test_labels)) == (3000, 200, 200)
    assert np.bincount(d.train_labels).tolist() == [300] * 10
    assert set(d.val_labels) == set(d.test_labels) == {6, 7}
    assert d.base_rate == pytest.approx(0.2)
    pool = {img.tobytes() for img in d.train_images}
    assert not any(img.tobytes() in pool for img in d.val_images)
    small = d.subset(100)
    assert np.bincount(small.train_labels).tolist() == [100] * 10
    np.testing.assert_array_equal(small.train_images, d.train_images[
        lab_module("data").first_per_digit(d.train_labels, 100)])
    data = lab_module("data")
    with pytest.raises(ValueError, match="per_digit"):
        data.selection_data((6, 7), per_digit=301)
    with pytest.raises(ValueError, match="target_digits"):
        data.check_target_digits([6, 12])
    assert data.check_target_digits([8, 3, 3]) == (3, 8)


def test_model_weights_and_uniform_loss(lab_module):
    model_mod = lab_module("model")
    net = lab_module("network").MLP(num_layers=1, input_shape=(4,), num_classes=3)
    criterion = torch.nn.CrossEntropyLoss(reduction="none")
    model = model_mod.DataSelectionHyperOptModel(net, criterion, 10, initial_weight=2.0)
    assert model.hyper_parameters == [model.log_weights]
    assert model.parameters == list(net.parameters())
    torch.testing.assert_close(model.get_sample_weights(), torch.ones(10))
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    loss, logits = model.train_loss(x, y, torch.tensor([0, 3, 4, 7, 9]))
    torch.testing.assert_close(loss, criterion(logits, y).mean())
    with pytest.raises(ValueError, match="sample_indices"):
        model.train_loss(x, y, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduction='none'"):
        model_mod.BaseHyperOptModel(net, torch.nn.CrossEntropyLoss()).per_sample_losses(x, y)


def test_model_answers_to_the_original_name_sample_weights(lab_module):
    net = lab_module("network").MLP(num_layers=1, input_shape=(4,), num_classes=3)
    model = lab_module("model").DataSelectionHyperOptModel(
        net, torch.nn.CrossEntropyLoss(reduction="none"), 6)
    assert model.sample_weights is model.log_weights
    assert [name for name, _ in model.named_parameters()].count("log_weights") == 1
    assert "sample_weights" not in dict(model.named_parameters())
    model.sample_weights.data.fill_(0.5)
    torch.testing.assert_close(model.log_weights.detach(), torch.full((6,), 0.5))
    with pytest.raises(AttributeError, match="cannot be assigned.*log_weights"):
        model.sample_weights = torch.nn.Parameter(torch.zeros(6))


def test_steps_are_timed_in_cpu_time_on_a_cpu(lab_module, full_data):
    """Other work on a shared machine must not change the hyper-step's printed cost."""
    import time

    selector = _tiny_selector(lab_module, full_data)
    assert selector._clock is time.process_time
    selector.train(1)
    assert selector.timing["steps"] == 3
    assert selector.timing["hyper_step_s"] > selector.timing["model_step_s"] > 0


def test_selector_takes_a_network_object_and_a_torch_device(lab_module, full_data):
    """The original assignment builds the selector around ``SimpleModel()`` and passes a
    ``torch.device``; both work, and train the object given."""
    network = lab_module("network").SimpleModel()
    before = {k: v.clone() for k, v in network.state_dict().items()}
    selector = _tiny_selector(lab_module, full_data, network=network,
                              device=torch.device("cpu"))
    assert selector.network is network and selector.device == torch.device("cpu")
    selector.train(1)
    assert any(not torch.equal(before[k], v) for k, v in network.state_dict().items())
    by_name = _tiny_selector(lab_module, full_data, network="simple")
    assert type(by_name.network).__name__ == "SimpleModel"
    with pytest.raises(ValueError, match=r"\(B, 10\).*returned shape \(2, 5\)"):
        _tiny_selector(lab_module, full_data, network=lab_module("network").SimpleModel(
            num_classes=5))
    with pytest.raises(ValueError, match="calling it on zeros"):
        _tiny_selector(lab_module, full_data, network=torch.nn.Linear(3, 10))
    with pytest.raises(ValueError, match="received int"):
        _tiny_selector(lab_module, full_data, network=3)


def test_ties_are_ranked_in_pool_order(lab_module, tmp_path):
    selection = lab_module("mnist_data_selection")
    weights = np.array([1.0, 5.5, 0.2, 5.5, 3.0, 5.5])
    np.testing.assert_array_equal(selection.rank_by_weight(weights), [1, 3, 5, 4, 0, 2])
    np.testing.assert_array_equal(selection.rank_by_weight(weights, np.array([5, 0, 3])),
                                  [3, 5, 0])
    summary = lab_module("train").top_digits_summary(weights, np.array([6, 7, 1, 3, 6, 7]),
                                                     (6, 7), top_k=2)
    assert summary["digits"] == {3: 1, 7: 1}
    assert summary["at_max_weight"] == {"count": 3, "digits": {7: 2, 3: 1}}
    titles = selection.weight_titles(np.array([7, 3]), weights[[1, 3]], np.array([1, 3]))
    assert titles == ["7 w=5.50 #1", "3 w=5.50 #3"]
    path = selection.draw_images(np.zeros((3, 28, 28)), tmp_path / "g.png", ["a", "b", "c"],
                                 "a title")
    assert Image.open(path).size[0] > 100
    with pytest.raises(ValueError, match="one title each"):
        selection.draw_images(np.zeros((3, 28, 28)), tmp_path / "g.png", ["a"], "t")


def _tiny_selector(lab_module, full_data, **kwargs):
    return lab_module("mnist_data_selection").MNISTDataSelector(
        (6, 7), data=full_data.subset(20), verbose=False, **kwargs)


def test_hyper_optimizer_halves_inner_lr_on_divergence(lab_module, full_data):
    selector = _tiny_selector(lab_module, full_data, inner_lr=50.0, K=5)
    with pytest.warns(UserWarning, match="diverged"):
        selector.train(1)
    assert selector.hyper_optimizer.divergences >= 1
    assert selector.hyper_optimizer.inner_lr < 50.0


def test_hyper_step_lowers_the_validation_loss(lab_module, full_data):
    """One hyper-step along minus the hypergradient, with the network held fixed after a
    little training, lowers the validation loss of the next SGD step's network."""
    selector = _tiny_selector(lab_module, full_data, K=20)
    selector.train(2)
    x, y, idx = selector.x_train[:64], selector.y_train[:64], torch.arange(64)
    state = {k: v.clone() for k, v in selector.network.state_dict().items()}
    log_weights = selector.model.log_weights.detach().clone()

    def val_after_sgd_step():
        selector.network.load_state_dict(state)
        loss, _ = selector.model.train_loss(x, y, idx)
        grads = torch.autograd.grad(loss, selector.model.parameters)
        with torch.no_grad():
            for p, g in zip(selector.model.parameters, grads, strict=True):
                p -= 0.5 * g
            return float(selector.model.validation_loss(selector.x_val, selector.y_val))

    before = val_after_sgd_step()
    selector.network.load_state_dict(state)
    grads = selector.hyper_optimizer.hypergradient(
        lambda: selector.model.train_loss(x, y, idx),
        lambda: selector.model.validation_loss(selector.x_val, selector.y_val))
    with torch.no_grad():
        selector.model.log_weights.copy_(log_weights - 2.0 * grads[0] / grads[0].abs().max())
    assert val_after_sgd_step() < before


def test_uniform_selector_matches_the_grader_baseline(lab_module, full_data, hidden_reference):
    data = full_data.subset(20)
    selector = lab_module("mnist_data_selection").MNISTDataSelector(
        (6, 7), data=data, learn_weights=False, seed=3, verbose=False)
    selector.train(2)
    torch.testing.assert_close(selector.model.log_weights.detach(), torch.zeros(200))
    expected = hidden_reference.uniform_baseline(lab_module("network"),
                                                 lab_module("data").normalise, data, 2, 3)
    np.testing.assert_allclose(selector.predict_logits(data.test_images), expected, rtol=1e-4,
                               atol=1e-5)
    # the grader also rebuilds the learned run's network as BASELINE["network"]
    assert hidden_reference.BASELINE == {
        "batch_size": 64, **{k: lab_module("mnist_data_selection").DEFAULTS[k]
                             for k in ("network", "lr", "momentum")}}


def test_selector_other_targets_and_analysis(lab_module, capsys, tmp_path):
    data = lab_module("data").selection_data((3, 8), per_digit=20)
    selector = lab_module("mnist_data_selection").MNISTDataSelector(
        [3, 8], batch_size=32, data=data, verbose=True)
    train_losses, val_losses = selector.train(num_epochs=2)
    assert len(train_losses) == len(val_losses) == 2
    top_indices, top_weights = selector.analyze_sample_importance(top_k=10)
    assert len(top_indices) == 10 and np.all(np.diff(top_weights) <= 0)
    counts = selector.visualize_results(top_indices, num_samples=5, path=tmp_path / "top.png")
    assert sum(counts.values()) == 5 and (tmp_path / "top.png").is_file()
    assert "target digits [3, 8]" in capsys.readouterr().out
    with pytest.raises(ValueError, match="target digits"):
        lab_module("mnist_data_selection").MNISTDataSelector([6, 7], data=data)
    with pytest.raises(ValueError, match="unknown settings"):
        lab_module("mnist_data_selection").MNISTDataSelector([3, 8], data=data, K_terms=3)


@pytest.mark.slow
def test_train_and_visualization_end_to_end(lab_module, tmp_path):
    train = lab_module("train")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        folder = train.main(["--epochs", "1", "--per_digit", "20", "--target_digits", "0", "1",
                             "--results_path", str(tmp_path)])
    summary = json.loads((folder / "summary.json").read_text())
    assert {"learned", "uniform", "test_loss_ratio", "top", "timing_ms"} <= set(summary)
    assert summary["hyper_step_cost"] == pytest.approx(
        summary["timing_ms"]["hyper_step"] / summary["timing_ms"]["sgd_step"]) and (
        summary["hyper_step_cost"] > 2)
    assert summary["top"]["base_rate"] == pytest.approx(0.2)
    args, _, history, arrays = train.read_results(folder)
    assert args.target_digits == [0, 1] and set(history) == {"learned", "uniform"}
    assert arrays["weights"].shape == (200,)
    written = lab_module("visualization").main(["--results_path", str(folder),
                                                "--num_samples", "12"])
    assert [p.name for p in written] == ["top_samples.png", "look_alikes.png",
                                         "weights_by_digit.png", "losses.png"]
    for path in written:
        assert Image.open(path).size[0] > 300


def test_the_original_split_leaves_the_targets_out_of_the_pool(lab_module, full_data):
    data = lab_module("data").selection_data((6, 7), per_digit=20, pool_targets=False)
    assert np.bincount(data.train_labels, minlength=10).tolist() == [20] * 6 + [0, 0, 20, 20]
    assert data.base_rate == 0.0
    np.testing.assert_array_equal(data.val_labels, full_data.val_labels)
    np.testing.assert_array_equal(data.test_images, full_data.test_images)
    weights = np.where(data.train_labels == 0, 2.0, 0.5)
    summary = lab_module("train").top_digits_summary(weights, data.train_labels, (6, 7), 10)
    assert summary["enrichment"] is None and summary["target_share"] == 0.0
    assert summary["digits"] == {0: 10}


@pytest.mark.slow
def test_train_and_visualization_on_the_original_split(lab_module, tmp_path, capsys):
    train = lab_module("train")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        folder = train.main(["--epochs", "1", "--per_digit", "20", "--no-pool_targets",
                             "--skip_uniform", "--results_path", str(tmp_path)])
    assert "no target digits in the pool" in capsys.readouterr().out
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["top"]["enrichment"] is None and summary["top"]["base_rate"] == 0.0
    written = lab_module("visualization").main(["--results_path", str(folder)])
    assert len(written) == 4 and all(path.is_file() for path in written)


def test_train_rejects_bad_flags(lab_module):
    train = lab_module("train")
    for argv in (["--epochs", "0"], ["--target_digits", "6", "11"]):
        with pytest.raises(SystemExit):
            train.parse_args(argv)
    args = train.parse_args(["--no-use_gauss_newton", "--target_digits", "3", "8"])
    assert args.use_gauss_newton is False and args.target_digits == [3, 8]


def test_graded_run_gives_the_network_and_weights_and_never_sees_test_images(lab_module,
                                                                             full_data):
    train = lab_module("train")
    d = full_data.subset(20)
    out = train.graded_run(d.train_images, d.train_labels, d.val_images, d.val_labels, [6, 7],
                           1, 0)
    assert out["weights"].shape == (200,) and out["weights"].mean() == pytest.approx(1.0)
    network, normalise = lab_module("network"), lab_module("data").normalise
    logits = network.network_logits("simple", out["network"], normalise(d.test_images[:7]))
    assert logits.shape == (7, 10) and logits.dtype == np.float64
    # the same logits as the trained selector's: nothing lost on the way out
    selector = lab_module("mnist_data_selection").MNISTDataSelector(
        (6, 7), data=d, seed=0, verbose=False)
    selector.train(1)
    np.testing.assert_allclose(logits, selector.predict_logits(d.test_images[:7]), rtol=1e-5,
                               atol=1e-6)


def test_network_logits_refuses_a_network_that_does_not_fit(lab_module, full_data):
    network = lab_module("network")
    inputs = lab_module("data").normalise(full_data.test_images[:3])
    good = network.build_network("simple").state_dict()
    assert network.network_logits("simple", good, inputs).shape == (3, 10)
    with pytest.raises(ValueError, match="must be a dict of tensors"):
        network.network_logits("simple", [1, 2], inputs)
    with pytest.raises(ValueError, match="received"):
        network.network_logits("simple", {**good, "net.1.weight": torch.zeros(3, 3)}, inputs)
    with pytest.raises(ValueError, match="received"):
        network.network_logits("simple", {k: v for k, v in good.items() if k != "net.3.bias"},
                               inputs)
    with pytest.raises(ValueError, match="NaN or infinite"):
        network.network_logits("simple", {**good, "net.3.bias": torch.full((10,), float("nan"))},
                               inputs)


def test_load_resources_and_grade_flags(lab_module, capsys):
    lab_module("load_resources").main([])
    assert "base rate of the targets in the pool 20%" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        lab_module("grade").parse_args(["--submission", "no_such_file.py"])


@pytest.mark.slow
def test_check_gradients_all_ok(lab_module, capsys):
    lab_module("check_gradients").main([])
    out = capsys.readouterr().out
    assert "CHECK" not in out and out.count("ok ") >= 9, out


def _submission_from(source: str) -> types.ModuleType:
    module = types.ModuleType("submission")
    exec(compile(source, "submission.py", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("wrong", ["blank", pytest.param("hypergradient_sign_flipped",
                                                          marks=pytest.mark.slow)])
def test_check_gradients_exits_non_zero_when_a_check_fails(capsys, wrong):
    from grading.examples import apply_patch, reference_submission

    from .conftest import LAB_DIR, reference_lab

    source = (LAB_DIR / "submission.py").read_text() if wrong == "blank" else apply_patch(
        reference_submission(LAB_DIR),
        (LAB_DIR.parent / "examples" / "lab_data_selection" / f"{wrong}.py").read_text())
    with reference_lab(_submission_from(source)) as import_module:
        with pytest.raises(SystemExit) as exited:
            import_module("check_gradients").main([])
    out = capsys.readouterr().out
    assert exited.value.code not in (0, None) and "check(s) failed" in str(exited.value.code)
    failing = [line for line in out.splitlines() if line.startswith("CHECK")]
    assert failing and all(line.split("  ")[1].strip() in str(exited.value.code)
                           for line in failing), out
    if wrong != "blank":
        assert len(failing) == 1 and "finite differences" in failing[0], out
