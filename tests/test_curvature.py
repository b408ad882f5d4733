"""Sharpness and NTK norm against closed forms and a dense Hessian."""

import pytest
import torch

import ncutils as nc


def linear_problem():
    data = nc.gaussian_mixture(3, 6, 5, seed=0, dtype=torch.float64)
    model = nc.NCNet(5, [], [], 3, seed=0, dtype=torch.float64)  # f(X) = X Wᵀ: one linear layer
    return data, model


def test_linear_model_closed_forms():
    data, model = linear_problem()
    X = data.X
    top = float(torch.linalg.eigvalsh(X.T @ X)[-1])
    # Hessian of ½‖X Wᵀ − Y‖²/N + λ/2‖W‖² is (XᵀX/N) ⊗ I + λ I
    assert nc.sharpness(model, data, weight_decay=0.1) == pytest.approx(top / X.shape[0] + 0.1, rel=1e-6)
    # the NTK is (X Xᵀ) ⊗ I, whose top eigenvalue is that of XᵀX
    assert nc.ntk_norm(model, data) == pytest.approx(top, rel=1e-6)


def test_sharpness_matches_dense_hessian_on_a_small_network():
    data = nc.gaussian_mixture(2, 4, 3, seed=1, dtype=torch.float64)
    model = nc.NCNet(3, [4], [3], 2, activation="tanh", seed=1, dtype=torch.float64)
    nc.train(model, data, nc.TrainConfig(lr=0.1, weight_decay=1e-3, steps=2000, record=0, progress=False))
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    X, Y = data.X, data.one_hot()

    def loss_of(flat):
        weights = [piece.view(shape) for piece, shape in zip(flat.split(sizes), shapes)]
        h = X
        for i, W in enumerate(weights):
            h = h @ W.T
            if i < model.L1:
                h = torch.tanh(h)
        return 0.5 * ((h - Y) ** 2).sum() / X.shape[0] + 0.5e-3 * (flat**2).sum()

    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    eigenvalues = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, flat))
    assert eigenvalues[-1] > abs(eigenvalues[0])  # near a minimum the top eigenvalue dominates
    assert nc.sharpness(model, data, weight_decay=1e-3, iters=2000, tol=1e-12) == pytest.approx(
        float(eigenvalues[-1]), rel=1e-6
    )


def test_bad_iters():
    data, model = linear_problem()
    with pytest.raises(ValueError, match="iters must be"):
        nc.sharpness(model, data, iters=0)
