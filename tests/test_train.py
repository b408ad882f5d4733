"""Training: the objective, continuation, dtype, collapse under weight decay, failures."""

import dataclasses
import importlib
import json
import math

import numpy as np
import pytest
import torch

import ncutils as nc

train_module = importlib.import_module("ncutils.train")  # (nc.train is the function)


def small_problem(dtype=torch.float64, L2_widths=(16, 8), seed=0):
    data = nc.gaussian_mixture(3, 8, 10, seed=seed)
    model = nc.NCNet(10, [48, 32], list(L2_widths), 3, activation="smooth_leaky", seed=seed, dtype=dtype)
    return data, model


def test_continuing_equals_one_long_run():
    data, a = small_problem()
    _, b = small_problem()
    config = nc.TrainConfig(lr=0.05, weight_decay=1e-3, steps=60, record_every=20, progress=False)
    history = nc.train(a, data, config)
    nc.train(a, data, config, history)
    long = nc.train(b, data, dataclasses.replace(config, steps=120))
    for Wa, Wb in zip(a.weights(), b.weights()):
        torch.testing.assert_close(Wa, Wb, rtol=0, atol=1e-13)
    assert history.steps == long.steps == [0, 20, 40, 60, 80, 100, 120]
    assert a.steps_trained == 120
    assert history.loss == pytest.approx(long.loss, rel=1e-12)


def test_one_step_is_gradient_descent_on_the_stated_objective():
    data, model = small_problem()
    before = [W.detach().clone() for W in model.weights()]
    X, Y = data.X.double(), data.one_hot().double()
    loss, _ = nc.objective(model, X, Y, weight_decay=0.01)
    grads = torch.autograd.grad(loss, model.weights())
    nc.train(model, data, nc.TrainConfig(lr=0.1, weight_decay=0.01, steps=1, progress=False))
    for W0, G, W1 in zip(before, grads, model.weights()):
        torch.testing.assert_close(W1.detach(), W0 - 0.1 * G, rtol=0, atol=1e-14)


def test_float64_model_trains_in_float64():
    data, model = small_problem(dtype=torch.float64)
    nc.train(model, data, nc.TrainConfig(lr=0.05, steps=3, progress=False))
    assert all(W.dtype == torch.float64 for W in model.weights())


def test_weight_decay_balances_the_head_and_zero_decay_does_not():
    runs = {}
    for weight_decay in (0.05, 0.0):
        data, model = small_problem()
        config = nc.TrainConfig(lr=0.1, weight_decay=weight_decay, steps=3000, record_every=1000, progress=False)
        runs[weight_decay] = nc.train(model, data, config)
    decayed, conserved = runs[0.05], runs[0.0]
    for history in runs.values():
        assert history.data_loss[-1] < 0.05 * history.data_loss[0]  # both fit the data
    head_pair = 3  # (W_3, W_4): the first linear pair
    start, end = decayed.metric("balancedness", head_pair)[[0, -1]]
    assert end < 1e-3 * start  # orders of magnitude
    start0, end0 = conserved.metric("balancedness", head_pair)[[0, -1]]
    assert end0 > 0.3 * start0
    # NC1 of the penultimate (linear) layer falls in both runs; how far is set by the
    # fit and the balance together (see the NC1 bound in test_theory.py)
    for history in runs.values():
        assert history.metric("nc1", -2)[-1] < 0.3 * history.metric("nc1", -2)[0]


def test_minibatch_sgd_with_momentum_and_epochs():
    data, model = small_problem(dtype=torch.float32)
    config = nc.TrainConfig(
        lr=0.02, weight_decay=1e-4, epochs=10, batch_size=5, momentum=0.9, record_every=0, progress=False
    )
    assert config.num_steps(data.num_samples) == 10 * 5  # 24 samples in batches of 5
    history = nc.train(model, data, config)
    assert history.steps == [0, 50]
    assert history.loss[-1] < history.loss[0]


def test_learning_rate_drop_counts_global_steps():
    data, a = small_problem()
    _, b = small_problem()
    config = nc.TrainConfig(lr=0.05, steps=10, lr_drop_step=15, lr_drop_factor=0.1, record_every=0, progress=False)
    nc.train(a, data, config)
    nc.train(a, data, config)
    nc.train(b, data, dataclasses.replace(config, steps=20))
    for Wa, Wb in zip(a.weights(), b.weights()):
        torch.testing.assert_close(Wa, Wb, rtol=0, atol=1e-13)


def test_divergence_is_a_clear_error_that_keeps_the_history():
    data, model = small_problem()
    config = nc.TrainConfig(lr=50.0, weight_decay=0.0, steps=200, record_every=1, progress=False)
    with pytest.raises(nc.TrainingDiverged, match=r"at step \d+ .*smaller learning rate") as info:
        nc.train(model, data, config)
    history = info.value.history
    assert len(history.steps) >= 1 and all(math.isfinite(v) for v in history.loss)


def test_interrupt_returns_the_history_so_far(monkeypatch):
    data, model = small_problem()
    calls = {"n": 0}
    real_report = train_module.collapse_report

    def report_then_interrupt(model, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_report(model, data)

    monkeypatch.setattr(train_module, "collapse_report", report_then_interrupt)
    with pytest.warns(UserWarning, match="interrupted"):
        history = nc.train(model, data, nc.TrainConfig(lr=0.05, steps=50, record_every=10, progress=False))
    assert history.interrupted and history.steps == [0, 10]


def test_history_round_trips_through_json(tmp_path):
    data, model = small_problem()
    history = nc.train(model, data, nc.TrainConfig(lr=0.05, steps=20, record_every=10, progress=False))
    path = tmp_path / "run" / "history.json"
    history.save(path)
    loaded = nc.History.load(path)
    assert loaded == history
    assert list(tmp_path.joinpath("run").iterdir()) == [path]  # no temporary file left behind
    assert loaded.metric("nc1", 2).shape == (3,)
    assert math.isnan(loaded.metric("nc3", 1)[0])  # NC3 applies to the penultimate layer only
    with pytest.raises(KeyError, match="unknown metric"):
        loaded.metric("nc4", 1)
    with pytest.raises(ValueError, match="layer must be in 1..5"):
        loaded.metric("nc1", 6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=0.0, steps=1), "lr must be"),
        (dict(lr=float("nan"), steps=1), "lr must be"),
        (dict(weight_decay=-1.0, steps=1), "weight_decay must be"),
        (dict(), "exactly one of steps and epochs"),
        (dict(steps=10, epochs=1), "exactly one of steps and epochs"),
        (dict(steps=0), "steps must be"),
        (dict(steps=1, batch_size=0), "batch_size must be"),
        (dict(steps=1, momentum=1.0), "momentum must"),
        (dict(steps=1, lr_drop_factor=0.0), "lr_drop_factor"),
        (dict(steps=1, record_every=-1), "record_every"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nc.TrainConfig(**kwargs)


def test_missing_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    data, model = small_problem()
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        nc.train(model, data, nc.TrainConfig(steps=1, device="cuda", progress=False))


def test_minibatch_sgd_with_momentum_continues_exactly():
    data, a = small_problem()
    _, b = small_problem()
    config = nc.TrainConfig(
        lr=0.02, weight_decay=1e-3, steps=23, batch_size=5, momentum=0.9, record_every=0, progress=False
    )
    nc.train(a, data, config)
    nc.train(a, data, config)
    nc.train(b, data, dataclasses.replace(config, steps=46))
    for Wa, Wb in zip(a.weights(), b.weights()):
        torch.testing.assert_close(Wa, Wb, rtol=0, atol=1e-13)


def test_minibatches_cover_each_epoch_once():
    batches = [train_module.minibatch(step, 24, 5, seed=3) for step in range(10)]
    first_epoch, second_epoch = torch.cat(batches[:5]), torch.cat(batches[5:])
    assert sorted(first_epoch.tolist()) == list(range(24)) == sorted(second_epoch.tolist())
    assert not torch.equal(first_epoch, second_epoch)


def test_config_takes_numpy_scalars_as_python_numbers():
    """Reproduce: python -m pytest tests/test_train.py -k numpy_scalars"""
    config = nc.TrainConfig(lr=np.float32(0.1), weight_decay=np.float64(1e-3), steps=np.int64(3), seed=np.int32(2))
    assert type(config.lr) is float and type(config.steps) is int and type(config.seed) is int
    assert config.lr == pytest.approx(0.1) and config.steps == 3
    json.dumps(dataclasses.asdict(config))  # histories store the config as JSON


def test_config_rejects_an_unknown_device_at_once():
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'"):
        nc.TrainConfig(lr=0.1, steps=1, device="gpu")
