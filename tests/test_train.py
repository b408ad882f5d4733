"""Training: the objective, explicit state and continuation, schedules, recording, dtype, failures."""

import dataclasses
import json
import math
import os
import signal

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ncutils as nc
from ncutils.steps import can_stack, minibatch


def small_problem(dtype=torch.float64, L2_widths=(16, 8), seed=0, bias=False):
    data = nc.gaussian_mixture(3, 8, 10, seed=seed)
    model = nc.NCNet(10, [48, 32], list(L2_widths), 3, activation="smooth_leaky", seed=seed, dtype=dtype, bias=bias)
    return data, model


def assert_same_weights(a, b, atol=0.0):
    for Wa, Wb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(Wa, Wb, rtol=0, atol=atol)


def stop_at(step, signum=signal.SIGINT):
    """An ``on_record`` hook that sends this process ``signum`` when a run records ``step``."""

    sent = []

    def hook(model, state):
        if state.step == step and not sent:  # once: a second Ctrl-C would stop at once, by design
            sent.append(signum)
            os.kill(os.getpid(), signum)

    return hook


def test_state_is_explicit_and_nothing_is_left_on_the_model():
    data, model = small_problem()
    config = nc.TrainConfig(lr=0.05, steps=30, batch_size=5, momentum=0.9, record=10, progress=False)
    state = nc.train(model, data, config)
    assert isinstance(state, nc.TrainState) and state.step == 30
    assert state.history.steps == [0, 10, 20, 30] and state.config["momentum"] == 0.9
    assert len(state.momentum) == len(list(model.parameters()))
    assert not hasattr(model, "steps_trained") and not hasattr(model, "momentum_buffers")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("kind", ["stacked", "plain", "minibatch-momentum"])
def test_a_stopped_run_continues_to_the_uninterrupted_numbers(kind, signum, interruptible):
    """Reproduce: python -m pytest tests/test_train.py -k continues_to_the_uninterrupted"""
    extra = {"stacked": {}, "plain": {}, "minibatch-momentum": {"batch_size": 5, "momentum": 0.9}}
    config = nc.TrainConfig(lr=0.05, weight_decay=1e-3, steps=60, record=10, progress=False, **extra[kind])
    count = 2 if kind == "stacked" else 1  # two networks of one architecture are stacked, one is not
    data, _ = small_problem()
    stopped_models = [small_problem(seed=s)[1] for s in range(count)]
    plain_models = [small_problem(seed=s)[1] for s in range(count)]
    assert can_stack(stopped_models, [config] * count) == (kind == "stacked")
    with pytest.raises(nc.TrainingInterrupted, match=f"{signal.Signals(signum).name} at step 30") as stopped:
        nc.train(stopped_models, data, config, on_record=stop_at(30, signum))
    states = stopped.value.states
    assert [s.step for s in states] == [30] * count and states[0].history.steps[-1] == 30
    continued = nc.train(stopped_models, data, config, states)
    uninterrupted = nc.train(plain_models, data, config)
    for a, b, c, u in zip(stopped_models, plain_models, continued, uninterrupted):
        assert_same_weights(a, b)
        assert c.history == u.history
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handlers are given back


def test_continuing_a_finished_run_with_more_steps_equals_one_long_run():
    data, a = small_problem()
    _, b = small_problem()
    config = nc.TrainConfig(lr=0.05, weight_decay=1e-3, steps=60, record=20, progress=False)
    state = nc.train(a, data, config)
    state = nc.train(a, data, dataclasses.replace(config, steps=120), state)
    long = nc.train(b, data, dataclasses.replace(config, steps=120))
    assert_same_weights(a, b)
    assert state.history.steps == long.history.steps == [0, 20, 40, 60, 80, 100, 120]
    assert state.history.loss == long.history.loss
    with pytest.raises(ValueError, match="state is at step 120, past the end of this run .60 steps."):
        nc.train(a, data, config, state)


def test_one_step_is_gradient_descent_on_the_stated_objective():
    for count in (1, 2):  # the plain step function (one network) and the stacked one (two)
        data, _ = small_problem()
        models = [small_problem(seed=s)[1] for s in range(count)]
        expected = []
        for model in models:
            loss, _ = nc.objective(model, data.X.double(), data.one_hot().double(), weight_decay=0.01)
            grads = torch.autograd.grad(loss, model.weights())
            expected.append([W.detach() - 0.1 * G for W, G in zip(model.weights(), grads)])
        nc.train(models, data, nc.TrainConfig(lr=0.1, weight_decay=0.01, steps=1, progress=False))
        for model, after in zip(models, expected):
            for W1, W_expected in zip(model.weights(), after):
                torch.testing.assert_close(W1.detach(), W_expected, rtol=0, atol=1e-14)


def test_float64_model_trains_in_float64():
    data, model = small_problem(dtype=torch.float64)
    nc.train(model, data, nc.TrainConfig(lr=0.05, steps=3, progress=False))
    assert all(W.dtype == torch.float64 for W in model.weights())


def test_weight_decay_balances_the_head_and_zero_decay_does_not():
    runs = {}
    for weight_decay in (0.05, 0.0):
        data, model = small_problem()
        config = nc.TrainConfig(lr=0.1, weight_decay=weight_decay, steps=3000, record=1000, progress=False)
        runs[weight_decay] = nc.train(model, data, config).history
    decayed, conserved = runs[0.05], runs[0.0]
    for history in runs.values():
        assert history.data_loss[-1] < 0.05 * history.data_loss[0]  # both fit the data
    head_pair = 3  # (W_3, W_4): the first linear pair
    start, end = decayed.metric("balancedness", head_pair)[[0, -1]]
    assert end < 1e-3 * start  # orders of magnitude
    start0, end0 = conserved.metric("balancedness", head_pair)[[0, -1]]
    assert end0 > 0.3 * start0
    for history in runs.values():
        assert history.metric("nc1", -2)[-1] < 0.3 * history.metric("nc1", -2)[0]


def test_minibatch_sgd_with_momentum_and_epochs():
    data, model = small_problem(dtype=torch.float32)
    config = nc.TrainConfig(lr=0.02, weight_decay=1e-4, epochs=10, batch_size=5, momentum=0.9, record=0, progress=False)
    assert config.num_steps(data.num_samples) == 10 * 5  # 24 samples in batches of 5
    history = nc.train(model, data, config).history
    assert history.steps == [0, 50]
    assert history.loss[-1] < history.loss[0]


def test_minibatches_cover_each_epoch_once():
    batches = [minibatch(step, 24, 5, seed=3) for step in range(10)]
    first_epoch, second_epoch = torch.cat(batches[:5]), torch.cat(batches[5:])
    assert sorted(first_epoch.tolist()) == list(range(24)) == sorted(second_epoch.tolist())
    assert not torch.equal(first_epoch, second_epoch)


# ---------------------------------------------------------------- schedules and recording


def test_schedules_give_the_stated_rates():
    lr = nc.constant(0.1).warm_up(10).drop(at=20, factor=0.5)
    assert lr(0) == pytest.approx(0.01) and lr(5) == pytest.approx(0.055) and lr(10) == 0.1
    assert lr(19) == 0.1 and lr(20) == 0.05 and lr(10**6) == 0.05
    stairs = nc.piecewise([3, 5], [0.1, 0.2, 0.4])
    assert [stairs(k) for k in range(7)] == [0.1, 0.1, 0.1, 0.2, 0.2, 0.4, 0.4]
    with pytest.raises(ValueError, match="boundaries must increase strictly"):
        nc.piecewise([5, 3], [0.1, 0.2, 0.4])
    with pytest.raises(ValueError, match="one value more than boundaries"):
        nc.piecewise([5], [0.1])
    with pytest.raises(ValueError, match="factor must be a positive finite number"):
        nc.constant(0.1).drop(at=3, factor=0.0)
    with pytest.raises(ValueError, match="start must lie in"):
        nc.constant(0.1).warm_up(3, start=2.0)


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(1e-4, 10),
    warm=st.integers(1, 50),
    start=st.floats(0.01, 1),
    at=st.integers(0, 100),
    factor=st.floats(1e-3, 1),
    step=st.integers(0, 200),
)
def test_a_schedule_survives_its_json(lr, warm, start, at, factor, step):
    schedule = nc.constant(lr).warm_up(warm, start).drop(at=at, factor=factor)
    again = nc.schedule_from_dict(json.loads(json.dumps(schedule.to_dict())))
    assert again == schedule and again(step) == schedule(step)
    assert 0 < schedule(step) <= lr


def test_the_drop_counts_global_steps_across_a_stop(interruptible):
    """A run stopped at step 10 and continued drops η at global step 15, like an uninterrupted one."""
    data, a = small_problem()
    _, b = small_problem()
    _, c = small_problem()
    config = nc.TrainConfig(lr=nc.constant(0.05).drop(at=15), steps=20, record=5, progress=False)
    with pytest.raises(nc.TrainingInterrupted) as stopped:
        nc.train(a, data, config, on_record=stop_at(10))
    nc.train(a, data, config, stopped.value.states[0])
    nc.train(b, data, config)  # uninterrupted
    assert_same_weights(a, b)
    nc.train(c, data, dataclasses.replace(config, lr=0.05))  # no drop: other weights
    assert not all(torch.equal(Wb, Wc) for Wb, Wc in zip(b.weights(), c.weights()))


def test_recording_at_a_list_and_on_record_sees_that_steps_weights():
    data, model = small_problem()
    seen = []

    def measure(model, state):
        with torch.no_grad():
            seen.append((state.step, float(nc.objective(model, data.X.double(), data.one_hot().double(), 1e-3)[0])))

    steps = nc.geometric_steps(200, count=4, first=10)
    assert steps == (0, 10, 27, 74, 200)
    state = nc.train(model, data, nc.TrainConfig(lr=0.05, steps=200, record=steps, progress=False), on_record=measure)
    assert state.history.steps == [0, 10, 27, 74, 200] == [s for s, _ in seen]
    assert [v for _, v in seen] == pytest.approx(state.history.loss, rel=1e-12)


def test_history_round_trips_through_json(tmp_path):
    data, model = small_problem()
    history = nc.train(model, data, nc.TrainConfig(lr=0.05, steps=20, record=10, progress=False)).history
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
    path.write_text('{"steps": [0, 1')
    with pytest.raises(nc.FileProblem, match="history.json is damaged"):
        nc.History.load(path)


# ---------------------------------------------------------------- several models at once


def sweep_members():
    data = nc.gaussian_mixture(3, 6, 8, seed=0)
    configs = [
        nc.TrainConfig(lr=lr, weight_decay=wd, steps=150, record=50, progress=False)
        for lr, wd in [(0.05, 0.0), (0.05, 1e-2), (0.1, 1e-3), (0.02, 5e-2)]
    ]

    def make(seed):
        return nc.NCNet(8, [24, 16], [12], 3, activation="smooth_leaky", seed=seed, dtype=torch.float64)

    return data, configs, make


def test_stacked_members_match_their_plain_solo_runs():
    data, configs, make = sweep_members()
    stacked = [make(seed) for seed in range(4)]
    assert can_stack(stacked, configs)
    states = nc.train(stacked, data, configs)
    for seed, (model, state, config) in enumerate(zip(stacked, states, configs)):
        solo = make(seed)
        solo_state = nc.train(solo, data, config)  # one network: the plain step function
        assert_same_weights(model, solo, atol=1e-6)
        assert state.history.steps == solo_state.history.steps == [0, 50, 100, 150]
        assert state.history.loss == pytest.approx(solo_state.history.loss, rel=1e-6)
        assert state.history.metric("nc1", -2) == pytest.approx(solo_state.history.metric("nc1", -2), rel=1e-6)


def test_models_that_cannot_be_stacked_are_trained_one_by_one():
    data, configs, make = sweep_members()
    other = nc.NCNet(8, [24, 16], [10], 3, activation="smooth_leaky", seed=0, dtype=torch.float64)
    models = [make(0), other]
    assert not can_stack(models, configs[:2])
    states = nc.train(models, data, configs[:2])
    alone = nc.NCNet(8, [24, 16], [10], 3, activation="smooth_leaky", seed=0, dtype=torch.float64)
    solo = nc.train(alone, data, configs[1])  # one network: the plain step function too
    assert states[1].history.loss == solo.history.loss and states[1].history.reports == solo.history.reports
    with pytest.raises(ValueError, match=r"need one TrainConfig, or one per model \(1\)"):
        nc.train([make(0)], data, configs)


def test_a_diverging_member_is_named_and_keeps_its_history():
    data, configs, make = sweep_members()
    configs = [configs[0], dataclasses.replace(configs[1], lr=80.0)]
    with pytest.raises(nc.TrainingDiverged, match=r"model 1 \(lr=80.*at step \d+; try a smaller learning rate") as info:
        nc.train([make(0), make(1)], data, configs)
    assert info.value.member == 1 and info.value.history.steps == [0]
    assert all(math.isfinite(v) for v in info.value.history.loss)


# ---------------------------------------------------------------- configuration errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=0.0, steps=1), "lr must be"),
        (dict(lr=float("nan"), steps=1), "lr must be"),
        (dict(lr="0.1", steps=1), "lr must be"),
        (dict(weight_decay=-1.0, steps=1), "weight_decay must be"),
        (dict(), "exactly one of steps and epochs"),
        (dict(steps=10, epochs=1), "exactly one of steps and epochs"),
        (dict(steps=0), "steps must be"),
        (dict(steps=1, batch_size=0), "batch_size must be"),
        (dict(steps=1, momentum=1.0), "momentum must"),
        (dict(steps=1, record=-1), "record must be"),
        (dict(steps=1, record=[3, -1]), "record must be"),
        (dict(steps=1, seed=-2), "seed must be"),
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


def test_config_takes_numpy_scalars_as_python_numbers():
    """Reproduce: python -m pytest tests/test_train.py -k numpy_scalars"""
    config = nc.TrainConfig(
        lr=np.float32(0.1), weight_decay=np.float64(1e-3), steps=np.int64(3), seed=np.int32(2), record=np.array([1, 2])
    )
    assert type(config.lr) is float and type(config.steps) is int and type(config.seed) is int
    assert config.lr == pytest.approx(0.1) and config.steps == 3 and config.record == (1, 2)
    json.dumps(config.to_dict())  # histories store the config as JSON


def test_config_rejects_an_unknown_device_at_once():
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'"):
        nc.TrainConfig(lr=0.1, steps=1, device="gpu")


def test_a_second_ctrl_c_stops_at_once(interruptible):
    """The first Ctrl-C asks for a stop at the end of the step; a second one does not wait."""
    data, model = small_problem()

    def twice(model, state):
        if state.step == 10:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt) as info:
        nc.train(model, data, nc.TrainConfig(lr=0.05, steps=30, record=10, progress=False), on_record=twice)
    assert not isinstance(info.value, nc.TrainingInterrupted)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_signal_stays_ignored(interruptible):
    """Under ``nohup`` (SIGINT ignored) a Ctrl-C must not stop training: train leaves SIG_IGN alone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    data, model = small_problem()
    state = nc.train(model, data, nc.TrainConfig(lr=0.05, steps=20, record=10, progress=False), on_record=stop_at(10))
    assert state.step == 20 and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
