"""The cross-entropy option (``loss="ce"``) against its formula, its gradient and a step by hand.

Reproduce: python -m pytest tests/test_losses.py
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ncutils as nc
from ncutils.steps import can_stack, data_term


def logits_and_labels(N, K, scale, seed):
    g = torch.Generator().manual_seed(seed)
    outputs = scale * torch.randn(N, K, generator=g, dtype=torch.float64)
    y = torch.randint(K, (N,), generator=g)
    return outputs, torch.nn.functional.one_hot(y, K).to(torch.float64), y


def cross_entropy_by_hand(outputs, y):
    """(1/N) Σ_i −log(exp f_{i,y_i} / Σ_k exp f_{i,k}), literally (fine for moderate logits)."""
    probabilities = torch.exp(outputs) / torch.exp(outputs).sum(dim=1, keepdim=True)
    return -torch.log(probabilities[torch.arange(len(y)), y]).mean()


@settings(max_examples=50, deadline=None)
@given(N=st.integers(1, 40), K=st.integers(2, 12), scale=st.sampled_from([0.01, 1.0, 10.0]), seed=st.integers(0, 999))
def test_cross_entropy_is_its_formula_and_its_gradient_is_softmax_minus_y(N, K, scale, seed):
    outputs, Y, y = logits_and_labels(N, K, scale, seed)
    outputs.requires_grad_(True)
    value = data_term(outputs, Y, "ce")
    by_hand = cross_entropy_by_hand(outputs, y)
    torch.testing.assert_close(value, by_hand, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(value, torch.nn.functional.cross_entropy(outputs, y), rtol=1e-12, atol=1e-14)
    (grad,) = torch.autograd.grad(value, outputs)
    (grad_by_hand,) = torch.autograd.grad(by_hand, outputs)  # autograd of the literal formula
    softmax_minus_y = (torch.softmax(outputs, dim=1) - Y) / N  # the closed form
    torch.testing.assert_close(grad, grad_by_hand, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(grad, softmax_minus_y.detach(), rtol=1e-10, atol=1e-14)


def test_cross_entropy_stays_finite_for_large_logits_and_is_per_member_when_stacked():
    outputs, Y, y = logits_and_labels(30, 5, 1.0, 0)
    big = 1000 * outputs  # exp overflows: the literal formula gives inf or nan, logsumexp does not
    assert torch.isfinite(data_term(big, Y, "ce"))
    stacked = torch.stack([outputs, 2 * outputs, big])
    per_member = data_term(stacked, Y, "ce")
    assert per_member.shape == (3,)
    for value, member in zip(per_member, stacked):
        torch.testing.assert_close(value, data_term(member, Y, "ce"), rtol=1e-14, atol=0)


def test_a_float64_step_on_cross_entropy_equals_one_by_hand():
    """One linear layer f(X) = X Wᵀ: W ← W − η [ (softmax(X Wᵀ) − Y)ᵀ X / N + λ W ]."""
    data = nc.gaussian_mixture(3, 7, 5, seed=0, dtype=torch.float64)
    model = nc.NCNet(5, [], [], 3, seed=1, dtype=torch.float64)
    (W,) = [w.detach().clone() for w in model.weights()]
    X, Y, N = data.X, data.one_hot().to(torch.float64), data.num_samples
    lr, decay = 0.3, 0.01
    expected = W - lr * ((torch.softmax(X @ W.T, dim=1) - Y).T @ X / N + decay * W)
    nc.train(model, data, nc.TrainConfig(lr=lr, weight_decay=decay, steps=1, loss="ce", progress=False))
    torch.testing.assert_close(model.weights()[0].detach(), expected, rtol=0, atol=1e-15)
    # and MSE, the default, is still the step on ½‖XWᵀ − Y‖²/N
    model = nc.NCNet(5, [], [], 3, seed=1, dtype=torch.float64)
    expected = W - lr * ((X @ W.T - Y).T @ X / N + decay * W)
    nc.train(model, data, nc.TrainConfig(lr=lr, weight_decay=decay, steps=1, progress=False))
    torch.testing.assert_close(model.weights()[0].detach(), expected, rtol=0, atol=1e-15)


def test_stacked_cross_entropy_runs_match_solo_runs_and_losses_are_recorded():
    data = nc.gaussian_mixture(3, 10, 6, seed=0, dtype=torch.float64)

    def make(seed):
        return nc.NCNet(6, [16], [8], 3, seed=seed, dtype=torch.float64)

    configs = [nc.TrainConfig(lr=0.2, weight_decay=0.005, steps=30, record=10, loss="ce", progress=False)] * 2
    stacked = [make(0), make(1)]
    assert can_stack(stacked, configs)
    assert not can_stack(stacked, [configs[0], nc.TrainConfig(lr=0.2, weight_decay=0.005, steps=30, record=10)])
    states = nc.train(stacked, data, configs)
    for seed, (model, state) in enumerate(zip(stacked, states)):
        solo = make(seed)
        solo_state = nc.train(solo, data, configs[0])
        for a, b in zip(model.weights(), solo.weights()):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        assert state.history.loss == pytest.approx(solo_state.history.loss, rel=1e-12)
        with torch.no_grad():
            loss, fit = nc.objective(model, data.X, data.one_hot().double(), 0.005, "ce")
        assert state.history.loss[-1] == pytest.approx(float(loss), rel=1e-12)
        assert state.history.data_loss[-1] == pytest.approx(float(fit), rel=1e-12)
        assert state.history.config["loss"] == "ce"


def test_an_unknown_loss_is_one_clear_error():
    with pytest.raises(ValueError, match="loss must be one of 'mse', 'ce', got 'hinge'"):
        nc.TrainConfig(steps=1, loss="hinge")
    with pytest.raises(ValueError, match="loss must be one of mse, ce, got 'l1'"):
        data_term(torch.zeros(2, 2), torch.eye(2), "l1")


def test_a_preset_trains_on_cross_entropy_and_mse_presets_keep_their_fingerprint(tmp_path):
    """python -m ncutils run mlp_head_depth --scale tiny, with Preset.loss = "ce" set in code."""
    import dataclasses

    from ncutils import results

    tiny = nc.get_preset("mlp_head_depth", "tiny")
    assert "loss" not in results.configuration(tiny)  # at "mse", the shipped results' fingerprints hold
    ce = dataclasses.replace(tiny, loss="ce", seeds=1)
    assert results.fingerprint(ce) != results.fingerprint(tiny)
    outputs = nc.run_preset(ce, out=tmp_path, progress=False)
    assert {o.result["history"]["config"]["loss"] for o in outputs} == {"ce"}
    assert all(o.result["preset_config"]["loss"] == "ce" for o in outputs)
