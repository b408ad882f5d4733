"""The network: architecture, activations, initialisation, feature access."""

import math

import pytest
import torch

import ncutils as nc


def test_architecture_and_features():
    model = nc.NCNet(5, [16, 12], [8, 6], 3, activation="tanh", seed=0)
    assert (model.L1, model.L2, model.num_layers) == (2, 3, 5)
    assert model.widths == [5, 16, 12, 8, 6, 3]
    assert [tuple(W.shape) for W in model.weights()] == [(16, 5), (12, 16), (8, 12), (6, 8), (3, 6)]
    assert [tuple(W.shape) for W in model.linear_weights()] == [(8, 12), (6, 8), (3, 6)]
    assert all(layer.bias is None for layer in model.layers)  # the theorems' setting: no biases
    X = torch.randn(7, 5)
    outputs = model.features(X)
    assert [o.index for o in outputs] == [1, 2, 3, 4, 5]
    assert [o.linear for o in outputs] == [False, False, True, True, True]
    torch.testing.assert_close(outputs[-1].post, model(X))
    torch.testing.assert_close(outputs[0].post, torch.tanh(outputs[0].pre))
    assert outputs[3].pre is outputs[3].post  # linear layers: no activation


def test_smooth_leaky_has_slope_between_tenth_and_one():
    x = torch.linspace(-30, 30, 2001, dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(nc.smooth_leaky(x).sum(), x)
    assert slope.min() >= 0.1 - 1e-12 and slope.max() <= 1.0 + 1e-12
    assert slope.min() < 0.1 + 1e-6 and slope.max() > 1.0 - 1e-6  # the bounds are tight
    assert nc.smooth_leaky(torch.zeros(1, dtype=torch.float64)).item() == 0.0
    assert nc.models.ACTIVATION_SLOPE_BOUNDS["smooth_leaky"] == (0.1, 1.0)


def test_lecun_initialisation_and_scales():
    model = nc.NCNet(400, [300], [200], 10, init_scales=[1.0, 0.5, 2.0], seed=1, dtype=torch.float64)
    for W, scale in zip(model.weights(), [1.0, 0.5, 2.0]):
        expected = scale / math.sqrt(W.shape[1])
        assert W.std().item() == pytest.approx(expected, rel=0.05)
    again = nc.NCNet(400, [300], [200], 10, init_scales=[1.0, 0.5, 2.0], seed=1, dtype=torch.float64)
    assert all(torch.equal(a, b) for a, b in zip(model.weights(), again.weights()))
    other = nc.NCNet(400, [300], [200], 10, seed=2, dtype=torch.float64)
    assert not torch.equal(model.weights()[0], other.weights()[0])


def test_dtype_is_respected():
    model = nc.NCNet(3, [4], [], 2, dtype=torch.float64, seed=0)
    assert all(W.dtype == torch.float64 for W in model.weights())
    assert model.L2 == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(in_dim=0), "in_dim"),
        (dict(num_classes=1), "num_classes"),
        (dict(activation="sigmoid"), "activation must be one of"),
        (dict(nonlinear_widths=[4, 0]), "nonlinear_widths"),
        (dict(linear_widths=[2.5]), "linear_widths"),
        (dict(init_scales=[1.0, 1.0]), "init_scales"),
        (dict(init_scales=-1.0), "init_scales"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = dict(in_dim=3, nonlinear_widths=[4], linear_widths=[4], num_classes=2) | kwargs
    with pytest.raises(ValueError, match=match):
        nc.NCNet(**args)


def test_a_smaller_initial_head_scales_only_the_linear_layers():
    """``linear_init_scale`` of a preset (and ``head_init_scales`` of a ResNet) multiplies the linear
    layers' initial weights, same seed, and leaves every other weight as it was."""
    import dataclasses

    from ncutils.preset import build_model

    for name in ("mlp_head_depth", "resnet_mnist_head_depth"):
        preset = nc.get_preset(name, "tiny")
        variant = preset.variants[-1]
        small = dataclasses.replace(preset, linear_init_scale=0.25)
        in_dim = preset.in_channels * preset.image_size**2 if preset.backbone == "resnet20" else 12
        a, b = (build_model(p, variant, in_dim, 3, seed=1, dtype=torch.float64) for p in (preset, small))
        L1 = a.L1
        for ell, (wa, wb) in enumerate(zip(a.weights(), b.weights())):
            assert torch.allclose(wb, (0.25 if ell >= L1 else 1.0) * wa, rtol=0, atol=1e-15)
        if name.startswith("resnet"):
            for pa, pb in zip(a.backbone.parameters(), b.backbone.parameters()):
                assert torch.equal(pa, pb)


def test_fields_added_later_keep_the_fingerprint_of_older_results():
    """A preset at the default of a field added after results were shipped has the fingerprint it had
    before the field existed (the key is left out); any other value is another configuration."""
    import dataclasses

    from ncutils import results

    preset = nc.get_preset("mlp_head_depth", "tiny")
    assert "linear_init_scale" not in results.configuration(preset)
    changed = dataclasses.replace(preset, linear_init_scale=0.5)
    assert results.configuration(changed)["linear_init_scale"] == 0.5
    assert results.fingerprint(changed) != results.fingerprint(preset)
