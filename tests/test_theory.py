"""The exact identities and the NC1 bound of ncutils.theory, checked numerically in float64."""

import math

import pytest
import torch

import ncutils as nc


def trained(L2_widths=(16, 8), steps=300, lr=0.05, weight_decay=1e-2, seed=0, widths=(48, 32), per_class=8):
    data = nc.gaussian_mixture(3, per_class, 10, seed=seed)
    model = nc.NCNet(10, list(widths), list(L2_widths), 3, activation="smooth_leaky", seed=seed, dtype=torch.float64)
    if steps:
        nc.train(model, data, nc.TrainConfig(lr=lr, weight_decay=weight_decay, steps=steps, record=0, progress=False))
    return data, model


# ---------------------------------------------------------------- the GD balancedness recursion


def test_gd_recursion_is_exact_for_linear_pairs_only():
    data, model = trained(steps=50)
    lr, weight_decay = 0.05, 0.01
    W = [w.detach().clone() for w in model.weights()]
    G = nc.data_gradients(model, data)
    nc.train(model, data, nc.TrainConfig(lr=lr, weight_decay=weight_decay, steps=1, record=0, progress=False))
    W_next = [w.detach() for w in model.weights()]

    def residual(i):  # the pair (W_i, W_{i+1}), 0-based
        predicted = nc.gd_balancedness_step(nc.imbalance(W[i], W[i + 1]), G[i], G[i + 1], lr, weight_decay)
        actual = nc.imbalance(W_next[i], W_next[i + 1])
        return float((actual - predicted).norm() / actual.norm())

    L1 = model.L1
    for i in range(L1, model.num_layers - 1):  # linear pairs: exact up to rounding
        assert residual(i) < 1e-10
    assert residual(0) > 1e-4  # a non-linear pair does not obey it
    assert residual(L1 - 1) > 1e-4  # nor the pair (last non-linear, first linear)


def test_imbalance_decay_factor():
    assert float(nc.imbalance_decay(0.1, 0.01, 0)) == 1.0
    assert float(nc.imbalance_decay(0.1, 0.01, 100)) == pytest.approx((1 - 1e-3) ** 200, rel=1e-14)


# ---------------------------------------------------------------- balanced heads


def test_balanced_factorization_is_exact():
    A = torch.randn(3, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    head = nc.balanced_factorization(A, [12, 9, 5, 3])
    assert [tuple(W.shape) for W in head] == [(9, 12), (5, 9), (3, 5)]
    torch.testing.assert_close(nc.head_product(head), A, rtol=0, atol=1e-13)
    for lower, upper in zip(head[:-1], head[1:]):
        assert nc.balancedness(lower, upper) < 1e-13
    # at exact balance κ(W_L) = κ(product)^{1/L2}
    assert nc.condition_number(head[-1]) == pytest.approx(nc.balanced_kappa(head), rel=1e-12)
    assert nc.balanced_kappa(head) == pytest.approx(nc.condition_number(A) ** (1 / 3), rel=1e-12)
    with pytest.raises(ValueError, match="inner width must be >= rank"):
        nc.balanced_factorization(A, [12, 2, 3])
    with pytest.raises(ValueError, match="widths must run from 12 to 3"):
        nc.balanced_factorization(A, [10, 3])


def test_schatten_cost_of_balanced_factorization():
    A = torch.randn(3, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    head = nc.balanced_factorization(A, [7, 5, 4, 3])
    cost = sum(float((W * W).sum()) for W in head)
    assert cost == pytest.approx(nc.schatten_cost(nc.singular_values(A), 3), rel=1e-12)
    # an unbalanced factorisation of the same product costs more
    unbalanced = [2.0 * head[0], head[1], 0.5 * head[2]]
    torch.testing.assert_close(nc.head_product(unbalanced), A, rtol=0, atol=1e-13)
    assert sum(float((W * W).sum()) for W in unbalanced) > cost


def test_exactly_balanced_interpolating_head_gives_exact_collapse():
    """Rebalance a trained head through the SVD of the product that interpolates: NC1 = 0, means = W_L⁺."""
    data, model = trained(steps=200, widths=(48, 32), per_class=8)  # N = 24 ≤ 32 = width of Z_{L1}
    with torch.no_grad():
        Z_backbone = model.features(data.X.double())[model.L1 - 1].post  # N × 32, rank N
        product = (torch.linalg.pinv(Z_backbone) @ data.one_hot().double()).T  # K × 32: Z Pᵀ = Y
        head = nc.balanced_factorization(product, model.widths[model.L1 :])
        for W, new in zip(model.linear_weights(), head):
            W.copy_(new)
        outputs = model.features(data.X.double())
    torch.testing.assert_close(outputs[-1].post, data.one_hot().double(), rtol=0, atol=1e-10)
    Z_pen = outputs[-2].post
    assert nc.nc1(Z_pen, data.y) < 1e-20
    means = nc.class_means(Z_pen, data.y)
    torch.testing.assert_close(means, torch.linalg.pinv(model.weights()[-1].detach()).T, rtol=0, atol=1e-10)
    bound = nc.nc1_bound_for(model, data)
    assert bound.eps1 < 1e-10 and bound.eps2 < 1e-12 and bound.bound < 1e-18


# ---------------------------------------------------------------- the NC1 bound


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("steps", [0, 400])
def test_nc1_bound_holds(seed, steps):
    data, model = trained(steps=steps, seed=seed, L2_widths=(16, 8) if seed % 2 else (8,))
    result = nc.nc1_bound_for(model, data)
    assert result.nc1 <= result.bound * (1 + 1e-12)
    assert result.nc1 > 0 and math.isfinite(result.nc1)


def test_nc1_bound_pieces_and_limits():
    assert nc.nc1_bound(0.0, 0.0, 2.0, 1.0, 5.0, 10, 4) == 0.0
    # grows with both errors, and is infinite once ε1 reaches √(n(K−1))
    assert nc.nc1_bound(0.1, 0.0, 2.0, 1.0, 5.0, 10, 4) < nc.nc1_bound(0.2, 0.0, 2.0, 1.0, 5.0, 10, 4)
    assert nc.nc1_bound(0.0, 1e-4, 2.0, 1.0, 5.0, 10, 4) < nc.nc1_bound(0.0, 1e-3, 2.0, 1.0, 5.0, 10, 4)
    assert nc.nc1_bound(math.sqrt(30), 0.0, 2.0, 1.0, 5.0, 10, 4) == math.inf
    with pytest.raises(ValueError, match="eps2 must be >= 0"):
        nc.nc1_bound(0.1, -1.0, 2.0, 1.0, 5.0, 10, 4)
    with pytest.raises(ValueError, match="s_max >= s_min > 0"):
        nc.nc1_bound(0.1, 0.0, 1.0, 2.0, 5.0, 10, 4)
    _, model = trained(steps=0, L2_widths=())
    with pytest.raises(ValueError, match="L2 >= 2"):
        nc.nc1_bound_for(model, nc.gaussian_mixture(3, 8, 10))


# ---------------------------------------------------------------- the head from the features before it

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def one_hot(K, n):
    return torch.nn.functional.one_hot(torch.arange(K).repeat_interleave(n), K).to(torch.float64)


def test_head_from_features_is_tight_for_collapsed_features():
    """Z_{L1} = Y D Q (every sample on its class mean, means with singular values D) and the
    least-norm head: κ(head) = κ(Z_{L1}) exactly, and the bound is attained."""
    K, n, p = 4, 5, 9
    Y = one_hot(K, n)
    D = torch.diag(torch.tensor([3.0, 2.0, 1.5, 0.5], dtype=torch.float64))
    Q = torch.linalg.qr(torch.randn(p, p, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))[0][:K]
    Z = Y @ D @ Q
    H = (torch.linalg.pinv(Z) @ Y).T  # K×p, Z Hᵀ = Y
    result = nc.head_from_features(Z, [H], Y)
    assert result.features_rank == K and result.eps < 1e-12 and result.leak < 1e-12
    assert result.kappa_features == pytest.approx(6.0, rel=1e-12)
    assert result.kappa_head == pytest.approx(6.0, rel=1e-12)
    assert result.bound == pytest.approx(6.0, rel=1e-9)
    assert result.kappa_top_features == pytest.approx(6.0, rel=1e-12)  # rank K: the top K are all of them
    assert result.s_max_head == pytest.approx(float(torch.linalg.matrix_norm(H, ord=2)), rel=1e-12)


def test_head_from_features_sees_weight_outside_the_features():
    K, n, p = 3, 4, 8
    Y = one_hot(K, n)
    Z = torch.cat([Y, torch.zeros(K * n, p - K, dtype=torch.float64)], 1)  # features in the first K coordinates
    H = torch.cat([torch.eye(K, dtype=torch.float64), torch.zeros(K, p - K, dtype=torch.float64)], 1)
    H[0, -1] = 5.0  # weight on a direction the features never take: outputs unchanged, κ(head) grows
    result = nc.head_from_features(Z, [H], Y)
    assert result.eps < 1e-12 and result.leak == pytest.approx(5.0, rel=1e-12)
    assert result.kappa_head > 5 and result.kappa_head <= result.bound


@settings(max_examples=60, deadline=None)
@given(
    K=st.integers(2, 5),
    n=st.integers(2, 5),
    extra=st.integers(0, 6),
    noise=st.floats(0.0, 0.3),
    leak=st.floats(0.0, 2.0),
    depth=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_head_from_features_bound_holds(K, n, extra, noise, leak, depth, seed):
    """κ(W_{L:L1+1}) ≤ bound for features of any spectrum, heads that interpolate up to noise,
    with weight outside the features' span, written as a product of 1–3 matrices."""
    g = torch.Generator().manual_seed(seed)
    N, p = K * n, K + extra + 3
    Y = one_hot(K, n)
    rank = min(N, K + extra)
    Z = torch.randn(N, rank, generator=g, dtype=torch.float64) @ torch.randn(rank, p, generator=g, dtype=torch.float64)
    H = (torch.linalg.pinv(Z) @ Y).T + noise * torch.randn(K, p, generator=g, dtype=torch.float64)
    _, _, Vh = torch.linalg.svd(Z, full_matrices=True)
    outside = Vh[rank:]  # directions the features never take
    if len(outside):
        H = H + leak * torch.randn(K, len(outside), generator=g, dtype=torch.float64) @ outside
    head = nc.balanced_factorization(H, [p] + [max(K, p)] * (depth - 1) + [K]) if depth > 1 else [H]
    result = nc.head_from_features(Z, head, Y)
    assert result.kappa_head <= result.bound * (1 + 1e-9)
