"""End points of trained networks (ncutils.endpoints): ranks and spectra of class means, checked on
networks whose answer is known exactly and against a naive float64 computation; the JSON records
written, read, never overwritten, never run; and the shipped records of book/low_rank_trained
reproduced by training one of their settings again.

Reproduce: python -m pytest tests/test_endpoints.py
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ncutils as nc

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "book" / "results" / "low_rank_trained.json"


def _one_hot_data(K=3, n=2):
    """n copies of each standard basis vector of R^K: class means = I_K, no spread inside a class."""
    X = torch.eye(K, dtype=torch.float64).repeat_interleave(n, dim=0)
    return nc.Dataset(X, torch.arange(K).repeat_interleave(n), K)


def _network(first, head):
    """A ReLU layer with weights ``first`` then a linear head with the given weights (float64)."""
    model = nc.NCNet(first.shape[1], [first.shape[0]], [W.shape[0] for W in head[:-1]], head[-1].shape[0],
                     dtype=torch.float64)  # fmt: skip
    with torch.no_grad():
        for layer, W in zip(model.layers, [first, *head]):
            layer.weight.copy_(W)
    return model


def test_a_head_that_drops_a_direction_has_rank_k_minus_one_and_infinite_nc2():
    data = _one_hot_data()
    model = _network(torch.eye(3, dtype=torch.float64), [torch.diag(torch.tensor([2.0, 1.0, 0.0])).double(),
                                                         torch.eye(3, dtype=torch.float64)])  # fmt: skip
    point = nc.end_point(model, data)
    assert point["rank_before"] == 3 and point["kappa_before"] == 1.0  # Z_L1: an orthonormal frame
    assert point["rank"] == 2 and point["nc2"] == float("inf")  # the head kept two directions
    assert point["nc1"] == 0.0
    assert point["s_pen"] == [1.0, 0.5, 0.0] and point["s_before"] == [1.0, 1.0, 1.0]


def test_the_threshold_decides_a_small_singular_value():
    data = _one_hot_data()
    model = _network(torch.diag(torch.tensor([1.0, 1.0, 1e-4])).double(), [torch.eye(3, dtype=torch.float64)])
    assert nc.end_point(model, data)["rank"] == 2  # 1e-4 < RANK_RTOL = 1e-3
    assert nc.end_point(model, data, rank_rtol=1e-5)["rank"] == 3
    assert nc.end_point(model, data)["kappa_before"] == pytest.approx(1e4)  # L2 = 1: Z_L1 enters the last layer


def test_end_point_agrees_with_a_naive_float64_computation():
    data = nc.gaussian_mixture(4, 5, 6, seed=1, dtype=torch.float64)
    model = nc.NCNet(6, [9, 7], [5, 5], 4, activation="smooth_leaky", seed=2, dtype=torch.float64)
    point = nc.end_point(model, data)
    with torch.no_grad():
        Z = data.X.numpy()
        for layer in model.layers[:2]:
            Z = nc.smooth_leaky(torch.from_numpy(Z @ layer.weight.numpy().T)).numpy()
        before = Z
        for layer in model.layers[2:4]:
            Z = Z @ layer.weight.numpy().T
    y = data.y.numpy()
    for features, key in [(before, "s_before"), (Z, "s_pen")]:
        means = np.stack([features[y == k].mean(axis=0) for k in range(4)])
        s = np.linalg.svd(means, compute_uv=False)
        np.testing.assert_allclose(point[key], s / s[0], rtol=1e-12)
    s = np.linalg.svd(np.stack([before[y == k].mean(axis=0) for k in range(4)]), compute_uv=False)
    assert point["kappa_before"] == pytest.approx(s[0] / s[3], rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"rank_rtol": 0.0}, "rank_rtol must be in"), ({"rank_rtol": 1.5}, "rank_rtol must be in")],
)
def test_bad_threshold_is_named(kwargs, message):
    data = _one_hot_data()
    with pytest.raises(ValueError, match=message):
        nc.end_point(_network(torch.eye(3, dtype=torch.float64), [torch.eye(3, dtype=torch.float64)]), data, **kwargs)


def test_a_network_without_a_nonlinear_layer_is_refused():
    data = _one_hot_data()
    with pytest.raises(ValueError, match="needs a non-linear layer"):
        nc.end_point(nc.NCNet(3, [], [3], 3), data)


def test_records_are_written_read_and_never_overwritten(tmp_path):
    data = nc.gaussian_mixture(3, 4, 5, seed=0)
    records = nc.train_end_points(data, 2, [0.01, 0.02], [0, 1], steps=20, backbone=(8,), head_width=4)
    assert [(r["wd"], r["seed"]) for r in records] == [(0.01, 0), (0.01, 1), (0.02, 0), (0.02, 1)]
    path = tmp_path / "points.json"
    nc.save_end_points(path, records)
    loaded = nc.load_end_points(path)
    for saved, read in zip(records, loaded):
        assert {k: v for k, v in read.items() if not k.startswith("s_")} == {
            k: v for k, v in saved.items() if not k.startswith("s_")
        }
        np.testing.assert_array_equal(read["s_pen"], saved["s_pen"])
    before = path.read_bytes()
    with pytest.raises(nc.FileProblem, match="never overwritten"):
        nc.save_end_points(path, records[:1])
    assert path.read_bytes() == before


def test_damaged_or_foreign_files_give_one_clear_error(tmp_path):
    damaged, foreign = tmp_path / "damaged.json", tmp_path / "foreign.json"
    damaged.write_text('{"format": "ncutils end po')
    foreign.write_text(json.dumps({"records": []}))
    with pytest.raises(nc.FileProblem, match="damaged"):
        nc.load_end_points(damaged)
    with pytest.raises(nc.FileProblem, match="not an end-point file"):
        nc.load_end_points(foreign)


def test_the_shipped_records_are_reproduced():
    """The K = 3 setting of book/low_rank_trained (4 seeds, 4,000 steps), trained again."""
    shipped = [r for r in nc.load_end_points(SHIPPED) if r["sweep"] == "MSE, K = 3"]
    assert len(shipped) == 4
    data = nc.gaussian_mixture(3, 10, 20, noise=1.0, seed=0)
    again = nc.train_end_points(data, 4, [0.03], [0, 1, 2, 3], steps=4000)
    for old, new in zip(shipped, again):
        assert (new["seed"], new["rank"], new["rank_before"]) == (old["seed"], old["rank"], old["rank_before"])
        assert new["objective"] == pytest.approx(old["objective"], rel=1e-5)
        assert new["kappa_before"] == pytest.approx(old["kappa_before"], rel=1e-4)
