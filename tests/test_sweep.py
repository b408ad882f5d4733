"""A batched sweep gives each member the weights of its solo run."""

import dataclasses

import pytest
import torch

import ncutils as nc


def members():
    data = nc.gaussian_mixture(3, 6, 8, seed=0)
    configs = [
        nc.TrainConfig(lr=lr, weight_decay=wd, steps=150, record_every=50, progress=False)
        for lr, wd in [(0.05, 0.0), (0.05, 1e-2), (0.1, 1e-3), (0.02, 5e-2)]
    ]

    def make(seed):
        return nc.NCNet(8, [24, 16], [12], 3, activation="smooth_leaky", seed=seed, dtype=torch.float64)

    return data, configs, make


def test_each_member_matches_its_solo_run():
    data, configs, make = members()
    batched = [make(seed) for seed in range(4)]
    histories = nc.train_sweep(batched, data, configs)
    for seed, (model, history, config) in enumerate(zip(batched, histories, configs)):
        solo = make(seed)
        solo_history = nc.train(solo, data, config)
        for W_batched, W_solo in zip(model.weights(), solo.weights()):
            torch.testing.assert_close(W_batched, W_solo, rtol=0, atol=1e-6)
        assert history.steps == solo_history.steps == [0, 50, 100, 150]
        assert history.loss == pytest.approx(solo_history.loss, rel=1e-6)
        assert history.metric("nc1", -2) == pytest.approx(solo_history.metric("nc1", -2), rel=1e-6)
        assert model.steps_trained == 150


def test_sweep_continues_like_train():
    data, configs, make = members()
    configs = [dataclasses.replace(c, steps=75) for c in configs]
    twice = [make(seed) for seed in range(4)]
    histories = nc.train_sweep(twice, data, configs)
    nc.train_sweep(twice, data, configs, histories)
    once = [make(seed) for seed in range(4)]
    nc.train_sweep(once, data, [dataclasses.replace(c, steps=150) for c in configs])
    for a, b in zip(twice, once):
        for Wa, Wb in zip(a.weights(), b.weights()):
            torch.testing.assert_close(Wa, Wb, rtol=0, atol=1e-12)
    assert histories[0].steps == [0, 50, 75, 100, 150]


def test_sweep_rejects_mixed_architectures_and_settings():
    data, configs, make = members()
    other = nc.NCNet(8, [24, 16], [10], 3, activation="smooth_leaky", seed=0, dtype=torch.float64)
    with pytest.raises(ValueError, match="one architecture"):
        nc.train_sweep([make(0), other], data, configs[:2])
    with pytest.raises(ValueError, match="same steps"):
        nc.train_sweep([make(0), make(1)], data, [configs[0], dataclasses.replace(configs[1], steps=10)])
    with pytest.raises(ValueError, match="full-batch"):
        nc.train_sweep([make(0)], data, [dataclasses.replace(configs[0], batch_size=4)])
    with pytest.raises(ValueError, match="one config per model"):
        nc.train_sweep([make(0)], data, configs)


def test_a_diverging_member_is_named():
    data, configs, make = members()
    configs = [configs[0], dataclasses.replace(configs[1], lr=80.0)]
    with pytest.raises(nc.TrainingDiverged, match="member 1 .*smaller learning rate"):
        nc.train_sweep([make(0), make(1)], data, configs)
