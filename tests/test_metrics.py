"""Metrics checked against constructions whose answer is known exactly, against
invariances, and against the literal per-sample formulas in ``ncutils.naive``."""

import math

import numpy as np
import pytest
import torch

import ncutils as nc
from ncutils import naive

K, n, p = 4, 6, 9


def labels(K=K, n=n):
    return torch.arange(K).repeat_interleave(n)


def random_features(seed=0, K=K, n=n, p=p):
    g = torch.Generator().manual_seed(seed)
    means = 3 * torch.randn(K, p, generator=g, dtype=torch.float64)
    return means[labels(K, n)] + torch.randn(K * n, p, generator=g, dtype=torch.float64), labels(K, n)


def orthogonal(p, seed=0):
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(p, p, generator=g, dtype=torch.float64))
    return Q


def simplex_etf(K, p, seed=0):
    """K centred means with equal norms and pairwise cosine −1/(K−1), rotated into R^p."""
    E = torch.eye(K, dtype=torch.float64) - 1.0 / K
    return E @ orthogonal(p, seed)[:K]


# ---------------------------------------------------------------- exact constructions


def test_collapsed_features_have_zero_nc1():
    means = torch.randn(K, p, dtype=torch.float64)
    Z, y = means[labels()], labels()
    assert nc.nc1(Z, y) < 1e-28  # zero up to rounding in the class means
    assert nc.nc1_pinv(Z, y) < 1e-28
    torch.testing.assert_close(nc.class_means(Z, y), means, rtol=0, atol=1e-15)


def test_orthogonal_frame_means_have_nc2_one():
    frame = 2.5 * orthogonal(p)[:K]  # K orthogonal rows of equal norm
    Z = frame[labels()] + 0.0
    assert nc.nc2(Z, labels()) == pytest.approx(1.0, abs=1e-12)


def test_rank_deficient_means_have_infinite_nc2():
    """Class means of rank below K are not a frame of K directions: NC2 is inf, never a small number.

    Reproduce: python -m pytest tests/test_metrics.py -k rank_deficient
    """
    frame = orthogonal(p)[:K]
    collapsed = frame.clone()
    collapsed[-1] = frame[0]  # two classes share a mean: rank K - 1, an orthogonal frame of K - 1 means
    Z, y = collapsed[labels()] + 0.0, labels()
    assert nc.numerical_rank(nc.class_means(Z, y)) == K - 1
    assert nc.condition_number(nc.class_means(Z, y)) == pytest.approx(math.sqrt(2))  # on its range: looks fine
    assert nc.nc2(Z, y) == math.inf
    assert naive.nc2(Z.numpy(), y.numpy(), K) == math.inf
    report = nc.layer_metrics(Z, y)
    assert report["nc2"] == math.inf and report["means_rank"] == K - 1
    # fewer feature dimensions than classes: at most rank p < K
    narrow = torch.randn(K, 2, dtype=torch.float64)[labels()]
    assert nc.nc2(narrow, y) == math.inf


def test_nc2_is_ratio_of_first_to_kth_singular_value():
    s = torch.tensor([5.0, 3.0, 2.0, 0.5], dtype=torch.float64)
    means = torch.diag(s) @ orthogonal(p)[:K]
    assert nc.nc2(means[labels()], labels()) == pytest.approx(10.0, rel=1e-12)


def test_simplex_etf_means_have_zero_etf_distance():
    Z = (simplex_etf(K, p) + 7.0)[labels()]  # a global shift does not matter: means are centred
    assert nc.nc2_etf(Z, labels()) == pytest.approx(0.0, abs=1e-12)
    # centring an orthonormal frame gives a simplex ETF; a frame of unequal norms does not
    frame = orthogonal(p)[:K]
    assert nc.nc2_etf(frame[labels()], labels()) == pytest.approx(0.0, abs=1e-12)
    unequal = torch.arange(1.0, K + 1, dtype=torch.float64)[:, None] * frame
    assert nc.nc2_etf(unequal[labels()], labels()) > 0.1


def test_head_proportional_to_means_has_perfect_nc3():
    Z, y = random_features()
    M = nc.class_means(Z, y)
    assert nc.nc3(Z, y, 3.0 * M) == pytest.approx(1.0, abs=1e-12)
    assert nc.nc3_distance(Z, y, 3.0 * M) == pytest.approx(0.0, abs=1e-12)
    assert nc.nc3(Z, y, -M) == pytest.approx(-1.0, abs=1e-12)


def test_known_condition_numbers():
    A = torch.diag(torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)) @ orthogonal(3)
    assert nc.condition_number(A) == pytest.approx(4.0, rel=1e-12)
    rank_two = torch.diag(torch.tensor([4.0, 2.0, 0.0], dtype=torch.float64))
    assert nc.condition_number(rank_two) == pytest.approx(2.0, rel=1e-12)  # on its range
    assert nc.numerical_rank(rank_two) == 2


def test_balanced_pair_has_zero_balancedness():
    U, V = orthogonal(5, 1), orthogonal(3, 2)
    S = torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)
    W_lower = U[:, :3] @ torch.diag(S) @ V.T  # 5×3
    W_upper = orthogonal(4, 3)[:, :3] @ torch.diag(S) @ U[:, :3].T  # 4×5
    assert nc.balancedness(W_lower, W_upper) == pytest.approx(0.0, abs=1e-14)
    assert nc.balancedness_op(W_lower, W_upper) == pytest.approx(0.0, abs=1e-13)
    assert nc.balancedness(W_lower, 2 * W_upper) > 1.0


def test_negativity_of_signed_matrices():
    H = torch.rand(20, 5, dtype=torch.float64) + 0.1
    assert nc.negativity(H) == 0.0
    assert nc.negativity(-H) == pytest.approx(1.0, abs=1e-14)


# ---------------------------------------------------------------- invariances


@pytest.mark.parametrize("metric", [nc.nc1, nc.nc1_pinv, nc.nc2, nc.nc2_etf])
def test_invariant_to_rotation_and_scale(metric):
    Z, y = random_features(seed=3)
    Q = orthogonal(p, seed=4)
    base = metric(Z, y)
    assert metric(Z @ Q, y) == pytest.approx(base, rel=1e-10)
    assert metric(5.0 * Z, y) == pytest.approx(base, rel=1e-10)


def test_float32_input_is_measured_in_float64():
    Z, y = random_features(seed=5)
    assert nc.nc1(Z.float(), y) == pytest.approx(nc.nc1(Z, y), rel=1e-6)


# ---------------------------------------------------------------- agreement with the literal formulas


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_naive_float64(seed):
    Z, y = random_features(seed, K=5, n=7, p=11)
    W = torch.randn(5, 11, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    Zn, yn, Wn = Z.numpy(), y.numpy(), W.numpy()
    pairs = [
        (nc.nc1(Z, y), naive.nc1(Zn, yn, 5)),
        (nc.nc1_pinv(Z, y), naive.nc1_pinv(Zn, yn, 5)),
        (nc.nc2(Z, y), naive.nc2(Zn, yn, 5)),
        (nc.nc2_etf(Z, y), naive.nc2_etf(Zn, yn, 5)),
        (nc.nc3(Z, y, W), naive.nc3(Zn, yn, Wn)),
        (nc.nc3_distance(Z, y, W), naive.nc3_distance(Zn, yn, Wn)),
        (nc.negativity(Z - 1.0), naive.negativity(Zn - 1.0)),
    ]
    np.testing.assert_allclose(nc.class_means(Z, y).numpy(), naive.class_means(Zn, yn, 5), rtol=1e-12)
    W_lower = torch.randn(11, 6, dtype=torch.float64)
    pairs += [
        (nc.balancedness(W_lower, W), naive.balancedness(W_lower.numpy(), Wn)),
        (nc.balancedness_op(W_lower, W), naive.balancedness_op(W_lower.numpy(), Wn)),
    ]
    for fast, slow in pairs:
        assert fast == pytest.approx(slow, rel=1e-10)


def test_wide_features_more_dims_than_samples():
    Z, y = random_features(seed=6, K=3, n=4, p=50)  # p > N: Σ_W is rank-deficient
    assert nc.nc1_pinv(Z, y) == pytest.approx(naive.nc1_pinv(Z.numpy(), y.numpy(), 3), rel=1e-10)
    assert nc.negativity(Z) == pytest.approx(naive.negativity(Z.numpy()), rel=1e-10)


# ---------------------------------------------------------------- degenerate and bad inputs


def test_coinciding_means_give_infinite_nc1_not_nan():
    Z = torch.randn(K * n, p, dtype=torch.float64)
    Z = Z - nc.class_means(Z, labels())[labels()]  # every class mean is 0
    assert nc.nc1(Z, labels()) == math.inf
    assert nc.nc1_pinv(Z, labels()) == math.inf


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: nc.nc1(torch.ones(3), torch.zeros(3, dtype=torch.long)), ValueError, "Z must be a 2-D"),
        (lambda: nc.nc1(torch.ones(4, 2), torch.zeros(3, dtype=torch.long)), ValueError, "one label per row"),
        (lambda: nc.nc1(torch.tensor([[float("nan")], [1.0]]), torch.tensor([0, 1])), ValueError, "non-finite"),
        (lambda: nc.nc1(torch.ones(2, 2), torch.tensor([0, -1])), ValueError, "labels must lie"),
        (lambda: nc.class_means(torch.ones(2, 2), torch.tensor([0, 2]), 3), ValueError, "class 1 has no samples"),
        (lambda: nc.nc3(*random_features(), torch.ones(K, p + 1)), ValueError, "W must be K×p"),
        (lambda: nc.balancedness(torch.ones(3, 2), torch.ones(4, 2)), ValueError, "W_upper must take"),
        (lambda: nc.condition_number(torch.zeros(2, 2)), ValueError, "zero matrix"),
        (lambda: nc.condition_number(torch.eye(2), rtol=0), ValueError, "rtol must be positive"),
        (lambda: nc.negativity(torch.zeros(2, 2)), ValueError, "zero matrix"),
        (lambda: nc.nc1([[1.0]], torch.tensor([0])), TypeError, "Z must be a torch.Tensor"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- the per-layer report


def test_collapse_report_has_one_row_per_layer():
    data = nc.gaussian_mixture(3, 5, 6, seed=0)
    model = nc.NCNet(6, [12, 10], [8], 3, seed=0)
    report = nc.collapse_report(model, data)
    assert report["layer"] == [1, 2, 3, 4]
    assert report["kind"] == ["nonlinear", "nonlinear", "linear", "linear"]
    assert report["width"] == [12, 10, 8, 3]
    assert set(report) == set(nc.report.REPORT_COLUMNS)
    assert all(len(column) == 4 for column in report.values())
    # NC3 only at the penultimate layer; negativity only for the non-linear ones
    assert [v is None for v in report["nc3"]] == [True, True, False, True]
    assert [v is None for v in report["negativity"]] == [False, False, True, True]
    assert report["balancedness"][-1] is None
    # each entry is the stand-alone metric of that layer
    with torch.no_grad():
        outputs = model.features(data.X)
    assert report["nc1"][1] == nc.nc1(outputs[1].post, data.y)
    assert report["nc3"][2] == nc.nc3(outputs[2].post, data.y, model.weights()[-1])
    assert report["negativity"][0] == nc.negativity(outputs[0].pre)


# ---------------------------------------------------------------- properties (Hypothesis)

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    classes=st.integers(2, 6),
    extra_dims=st.integers(-2, 4),
    rank_drop=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_nc2_is_finite_exactly_when_the_means_have_rank_k(classes, extra_dims, rank_drop, seed):
    """NC2 is finite iff the K class means span K dimensions, and then equals s_1/s_K (float64 reference)."""
    dims = max(1, classes + extra_dims)
    g = torch.Generator().manual_seed(seed)
    rank = max(1, min(classes, dims) - rank_drop)
    means = torch.randn(classes, rank, generator=g, dtype=torch.float64) @ torch.randn(
        rank, dims, generator=g, dtype=torch.float64
    )
    y = labels(classes, 3)
    Z = means[y] + 0.0
    value = nc.nc2(Z, y)
    s = np.linalg.svd(means.numpy(), compute_uv=False)
    if rank < classes:
        assert value == math.inf
    else:
        assert value == pytest.approx(s[0] / s[classes - 1], rel=1e-9)
        assert value == pytest.approx(naive.nc2(Z.numpy(), y.numpy(), classes), rel=1e-9)
    assert nc.layer_metrics(Z, y)["means_rank"] == rank


# ---------------------------------------------------------------- edge cases: clear errors, documented undefined values


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nc.nc1(torch.zeros(0, 5), torch.zeros(0, dtype=torch.long)), "Z is empty"),
        (lambda: nc.nc2(torch.randn(6, 3), torch.zeros(6, dtype=torch.long)), "need at least 2"),
        (lambda: nc.nc1_pinv(*random_features(), rtol=0), "rtol must be positive"),
        (lambda: nc.nc1_pinv(*random_features(), rtol=-1e-3), "rtol must be positive"),
        (lambda: nc.nc3(*random_features(), torch.ones(K - 1, p)), "the labels name 4 classes, W has 3 rows"),
        (lambda: nc.nc1(torch.randn(4, 2), torch.tensor([0.0, 0.5, 1.0, 1.0])), "integer class labels"),
    ],
)
def test_edge_cases_raise_one_clear_error(call, match):
    """Reproduce: python -m pytest tests/test_metrics.py -k edge_cases"""
    with pytest.raises(ValueError, match=match):
        call()


def test_numpy_inputs_give_the_same_metrics():
    Z, y = random_features()
    assert nc.nc1(Z.numpy(), y.numpy()) == nc.nc1(Z, y)
    assert nc.nc2(Z.numpy(), list(y.tolist())) == nc.nc2(Z, y)


def test_a_dead_layer_is_measured_not_fatal():
    """All-zero features (a dead ReLU layer): every metric has a documented undefined value."""
    Z, y = torch.zeros(K * n, p, dtype=torch.float64), labels()
    report = nc.layer_metrics(Z, y, W=torch.randn(K, p, dtype=torch.float64))
    assert report["nc1"] == report["nc1_pinv"] == report["nc2"] == report["nc2_etf"] == math.inf
    assert report["means_rank"] == 0 and math.isnan(report["nc3"]) and math.isnan(report["nc3_distance"])
    assert math.isnan(nc.layer_metrics(Z, y, pre=torch.zeros_like(Z))["negativity"])


def test_a_network_that_dies_under_large_weight_decay_trains_on_and_is_recorded():
    """Reproduce: λ = 2 zeroes every weight within 50 steps; training goes on and every record is kept.

    python -c "import ncutils as nc; d = nc.gaussian_mixture(3, 8, 10); nc.train(nc.NCNet(10, [16, 16], [8], 3),
    d, nc.TrainConfig(lr=0.5, weight_decay=2.0, steps=200, record=50))"
    """
    data = nc.gaussian_mixture(3, 8, 10, seed=0)
    model = nc.NCNet(10, [16, 16], [8], 3, activation="relu", seed=0)
    history = nc.train(
        model, data, nc.TrainConfig(lr=0.5, weight_decay=2.0, steps=200, record=50, progress=False)
    ).history
    assert history.steps == [0, 50, 100, 150, 200]
    assert history.data_loss[-1] == pytest.approx(0.5)  # the network outputs 0: ½‖Y‖²_F / N = ½
    for layer in range(1, 5):
        assert history.metric("nc1", layer)[-1] == history.metric("nc2", layer)[-1] == math.inf
    assert all(math.isnan(history.metric("negativity", layer)[-1]) for layer in (1, 2))


# ---------------------------------------------------------------- invariances (Hypothesis)


@st.composite
def features(draw):
    classes, per, dims = draw(st.integers(2, 5)), draw(st.integers(2, 5)), draw(st.integers(2, 8))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    means = 3 * torch.randn(classes, dims, generator=g, dtype=torch.float64)
    y = labels(classes, per)
    Z = means[y] + draw(st.floats(0.05, 2.0)) * torch.randn(classes * per, dims, generator=g, dtype=torch.float64)
    return Z, y, g


def _all(Z, y, W):
    return (nc.nc1(Z, y), nc.nc1_pinv(Z, y), nc.nc2(Z, y), nc.nc2_etf(Z, y), nc.nc3(Z, y, W), nc.nc3_distance(Z, y, W))


@settings(max_examples=40, deadline=None)
@given(data=features(), scale=st.floats(1e-3, 1e3))
def test_metrics_are_invariant_to_sample_order_rotation_and_scale(data, scale):
    """Permuting the samples, rotating the features (and W with them) and scaling them change no metric."""
    Z, y, g = data
    W = torch.randn(int(y.max()) + 1, Z.shape[1], generator=g, dtype=torch.float64)
    reference = _all(Z, y, W)
    order = torch.randperm(len(y), generator=g)
    Q = torch.linalg.qr(torch.randn(Z.shape[1], Z.shape[1], generator=g, dtype=torch.float64))[0]
    for Z2, y2, W2 in [(Z[order], y[order], W), (Z @ Q, y, W @ Q), (scale * Z, y, W)]:
        assert _all(Z2, y2, W2) == pytest.approx(reference, rel=1e-6, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(data=features())
def test_kappa_is_at_least_one_and_collapsed_features_have_zero_nc1(data):
    Z, y, _ = data
    assert nc.nc2(Z, y) >= 1.0 and nc.condition_number(Z) >= 1.0
    M = nc.class_means(Z, y)
    assert nc.nc1(M[y] + 0.0, y) < 1e-24  # every sample exactly on its class mean


def test_metrics_leave_their_input_unchanged():
    """The within-class pass subtracts the class means in place, from a copy of each block of rows:
    a float64 Z (whose blocks need no conversion) must come back untouched."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat_interleave(700)
    for dtype in (torch.float64, torch.float32):
        Z = torch.randn(len(y), 8, generator=g, dtype=dtype) + torch.randn(3, 8, generator=g, dtype=dtype)[y]
        before = Z.clone()
        nc.layer_metrics(Z, y, 3, W=torch.ones(3, 8), pre=Z)
        nc.nc1(Z, y), nc.nc1_pinv(Z, y)
        assert torch.equal(Z, before)
