"""Every metric of every layer of a network at once: the table a training run records at each step."""

from __future__ import annotations

import math

import torch

from .metrics import (
    DEFAULT_RTOL,
    _alignment,
    _class_geometry,
    _etf_distance,
    balancedness,
    balancedness_op,
    means_condition_number,
    negativity,
    numerical_rank,
)
from .models import data_for


def layer_metrics(Z, y, num_classes=None, W=None, pre=None, rtol: float = DEFAULT_RTOL) -> dict:
    """All metrics of one layer at once, sharing the passes over Z (what ``collapse_report`` uses).

    ``W``: the next layer's K×p weights, for NC3 (penultimate layer only);
    ``pre``: the layer's pre-activations, for negativity (non-linear layers only). A dead layer
    (all pre-activations zero) is measured, not fatal: its negativity is NaN (undefined), like
    its NC3; its NC1 and NC2 are ``inf``.
    """
    means, centred, nc1_value, nc1_pinv_value = _class_geometry(Z, y, num_classes, rtol)
    nc3_value, nc3_distance_value = _alignment(W, means) if W is not None else (None, None)
    return {
        "nc1": nc1_value,
        "nc1_pinv": nc1_pinv_value,
        "nc2": means_condition_number(means, rtol),
        "nc2_etf": _etf_distance(centred),
        "means_rank": numerical_rank(means, rtol),
        "nc3": nc3_value,
        "nc3_distance": nc3_distance_value,
        "negativity": None if pre is None else math.nan if not bool(pre.any()) else negativity(pre),
    }


# ---------------------------------------------------------------- every metric, every layer

REPORT_COLUMNS = (
    "layer",
    "kind",
    "width",
    "nc1",
    "nc1_pinv",
    "nc2",
    "nc2_etf",
    "means_rank",
    "nc3",
    "nc3_distance",
    "balancedness",
    "balancedness_op",
    "negativity",
)


TEST_COLUMNS = ("accuracy", "test_accuracy", "test_nc1", "test_nc2")


@torch.no_grad()
def collapse_report(model, data, test=None) -> dict[str, list]:
    """Every metric for every layer ℓ = 1..L of ``model`` on ``data``: one row per layer.

    Returned as a plain dict of equal-length lists (``pandas.DataFrame(report)``
    displays it as a table). Entries that do not apply are ``None``:
    NC3 only for the penultimate layer (it needs W_L, the K-row matrix after it);
    balancedness for each pair (W_ℓ, W_{ℓ+1}), ℓ < L (the theory is about the linear
    pairs ℓ > L1); negativity for the non-linear layers' pre-activations.

    ``test``: a held-out data set of the same classes and inputs (``split="test"`` of the
    data constructors). The report then also has NC1 and NC2 of every layer on it
    (``test_nc1``, ``test_nc2``), and the network's accuracy on both sets (argmax of the
    output, in the last layer's row): collapse on the training set with a test-set NC1 just
    as small is collapse of the classes, not memorisation of the samples.
    """
    data = data_for(model, data)
    X, y, K = data.X, data.y, data.num_classes
    weights = model.weights()
    L = len(weights)
    rows = {name: [] for name in REPORT_COLUMNS}
    for out in model.features(X):
        ell = out.index
        rows["layer"].append(ell)
        rows["kind"].append("linear" if out.linear else "nonlinear")
        rows["width"].append(out.post.shape[1])
        metrics = layer_metrics(
            out.post, y, K, W=weights[-1] if ell == L - 1 else None, pre=None if out.linear else out.pre
        )
        for name, value in metrics.items():
            rows[name].append(value)
        has_next = ell < L
        rows["balancedness"].append(balancedness(weights[ell - 1], weights[ell]) if has_next else None)
        rows["balancedness_op"].append(balancedness_op(weights[ell - 1], weights[ell]) if has_next else None)
    if test is not None:
        rows.update(_held_out(model, data, test))
    return rows


def _held_out(model, data, test) -> dict[str, list]:
    """The report's test-set columns: NC1 and NC2 per layer on ``test``, accuracy on both sets."""
    from .data import Dataset

    if not isinstance(test, Dataset):
        raise TypeError(
            f"test must be an ncutils Dataset (split='test' of a data constructor), got {type(test).__name__}"
        )
    if test.num_classes != data.num_classes or test.dim != data.dim:
        raise ValueError(
            f"test must have the training set's classes and inputs: it has K={test.num_classes}, d={test.dim}; "
            f"the training set has K={data.num_classes}, d={data.dim}"
        )
    test = data_for(model, test)
    columns = {name: [] for name in TEST_COLUMNS}
    outputs = {}
    for name, which in (("accuracy", data), ("test_accuracy", test)):
        features = model.features(which.X)
        outputs[name] = float((features[-1].post.argmax(dim=1) == which.y).double().mean())
        if name == "test_accuracy":
            for out in features:
                metrics = layer_metrics(out.post, which.y, which.num_classes)
                columns["test_nc1"].append(metrics["nc1"])
                columns["test_nc2"].append(metrics["nc2"])
    last = len(columns["test_nc1"])
    for name in ("accuracy", "test_accuracy"):
        columns[name] = [None] * (last - 1) + [outputs[name]]
    return columns
