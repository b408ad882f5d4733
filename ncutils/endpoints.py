"""Where a trained network ended: the rank and spectrum of its class means before the linear head
(Z_{L1}) and at the input of the last layer (the book's part on the low-rank bias).

``end_point(model, data)`` measures one trained network; ``train_end_points`` trains every
(λ, seed) of one architecture together (one stacked network) and measures each run;
``save_end_points`` / ``load_end_points`` keep the records as JSON: plain numbers and lists, so
reading a file cannot run code, and an existing file is never overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .data import Dataset
from .files import FileProblem, read_json, write_json_atomic
from .metrics import class_means, nc1, singular_values
from .models import NCNet
from .train import TrainConfig, train

RANK_RTOL = 1e-3  # a singular value of the class means counts when above RANK_RTOL × the largest
FORMAT = "ncutils end points 1"


def _means_spectrum(Z: torch.Tensor, data: Dataset) -> torch.Tensor:
    """Singular values of the K class means of the features Z (rows are samples), in float64."""
    return singular_values(class_means(Z.double(), data.y, data.num_classes))


def end_point(model: NCNet, data: Dataset, rank_rtol: float = RANK_RTOL) -> dict:
    """The end point of a trained MLP on ``data``: the numerical rank (singular values above
    ``rank_rtol`` × the largest) of the class means entering the last layer (``rank``; Z_{L1} itself
    when L2 = 1) and of Z_{L1} (``rank_before``), s_1/s_K of each (``nc2``, ``kappa_before``: the
    paper's conditioning hypothesis), NC1 entering the last layer, and both spectra divided by
    their largest value. Float32 training leaves no exact zeros, hence a threshold, not 1e-8."""
    if not 0 < rank_rtol < 1:
        raise ValueError(f"rank_rtol must be in (0, 1), got {rank_rtol!r}")
    if model.L1 < 1:
        raise ValueError(f"the model needs a non-linear layer (Z_L1 is its output), got L1 = {model.L1}")
    K = data.num_classes
    with torch.no_grad():
        layers = model.features(data.X)
    before_head = layers[model.L1 - 1].post
    last_input = layers[-2].post if model.L2 > 1 else before_head
    s_before, s_last = _means_spectrum(before_head, data), _means_spectrum(last_input, data)
    return {
        "K": K,
        "L2": model.L2,
        "rank": int((s_last > rank_rtol * s_last[0]).sum()),
        "rank_before": int((s_before > rank_rtol * s_before[0]).sum()),
        "kappa_before": float(s_before[0] / s_before[K - 1]),
        "nc2": float(s_last[0] / s_last[K - 1]),
        "nc1": nc1(last_input.double(), data.y, K),
        "s_pen": (s_last / s_last[0]).tolist(),
        "s_before": (s_before / s_before[0]).tolist(),
    }


def train_end_points(
    data: Dataset,
    L2: int,
    weight_decays: Sequence[float],
    seeds: Sequence[int],
    *,
    steps: int,
    lr: float = 0.1,
    loss: str = "mse",
    activation: str = "smooth_leaky",
    backbone: Sequence[int] = (64, 64),
    head_width: int = 32,
) -> list[dict]:
    """Full-batch GD on every (λ, seed): the MLP ``backbone`` → L2 linear layers (hidden width
    ``head_width``), all trained together; one record per run, the ``end_point`` plus its λ
    (``wd``), seed, loss and final regularised objective."""
    members = [(weight_decay, seed) for weight_decay in weight_decays for seed in seeds]
    if not members:
        raise ValueError("weight_decays and seeds must not be empty")
    models = [
        NCNet(data.dim, list(backbone), [head_width] * (L2 - 1), data.num_classes, activation=activation, seed=s)
        for _, s in members
    ]
    configs = [TrainConfig(lr=lr, weight_decay=wd, steps=steps, record=0, loss=loss, seed=s) for wd, s in members]
    states = train(models, data, configs)
    return [
        {"wd": wd, "seed": seed, "loss": loss, "objective": state.history.loss[-1], **end_point(model, data)}
        for (wd, seed), model, state in zip(members, models, states)
    ]


def save_end_points(path: str | os.PathLike, records: list[dict]) -> None:
    """Write the records to a new JSON file; an existing file is left alone (a FileProblem)."""
    path = Path(path)
    if path.exists():
        raise FileProblem(f"{path} exists: end points are never overwritten; move it away to write new ones")
    write_json_atomic(path, {"format": FORMAT, "records": records})


def load_end_points(path: str | os.PathLike) -> list[dict]:
    """The records of ``save_end_points``, with the spectra as NumPy arrays."""
    content = read_json(path, "end-point file", "write it again with save_end_points")
    if content.get("format") != FORMAT or not isinstance(content.get("records"), list):
        raise FileProblem(f"{path} is not an end-point file of this version (format {FORMAT!r})")
    records = []
    for record in content["records"]:
        records.append({**record, "s_pen": np.array(record["s_pen"]), "s_before": np.array(record["s_before"])})
    return records
