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


@torch.no_grad()
def collapse_report(model, data) -> dict[str, list]:
    """Every metric for every layer ℓ = 1..L of ``model`` on ``data``: one row per layer.

    Returned as a plain dict of equal-length lists (``pandas.DataFrame(report)``
    displays it as a table). Entries that do not apply are ``None``:
    NC3 only for the penultimate layer (it needs W_L, the K-row matrix after it);
    balancedness for each pair (W_ℓ, W_{ℓ+1}), ℓ < L (the theory is about the linear
    pairs ℓ > L1); negativity for the non-linear layers' pre-activations.
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
    return rows
