"""The paper's network: ``L1`` non-linear layers, then ``L2`` linear layers.

    x ↦ σ(W_1 x) ↦ … ↦ σ(W_{L1} ·) ↦ W_{L1+1} · ↦ … ↦ W_L ·      (L = L1 + L2)

No biases anywhere (the theorems' setting), so the class means of a collapsed
network form an orthogonal frame rather than a simplex ETF.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LOG2 = math.log(2.0)


def smooth_leaky(x: torch.Tensor) -> torch.Tensor:
    """σ(x) = 0.1 x + 0.9 (softplus(x) − log 2).

    Smooth, σ(0) = 0 and σ'(x) = 0.1 + 0.9 sigmoid(x) ∈ [0.1, 1]: the derivative
    bound σ' ∈ [γ, 1] (here γ = 0.1) that the gradient-descent theorem assumes.
    """
    return 0.1 * x + 0.9 * (F.softplus(x) - LOG2)


ACTIVATIONS = {
    "relu": torch.relu,
    "smooth_leaky": smooth_leaky,
    "gelu": F.gelu,
    "tanh": torch.tanh,
}

# Lower bound γ on σ' where one exists (ReLU, GELU and tanh have none > 0).
ACTIVATION_SLOPE_BOUNDS = {"smooth_leaky": (0.1, 1.0)}


@dataclass(frozen=True)
class LayerOutput:
    """One layer's output: ``post`` = Z_ℓ (N×n_ℓ); ``pre`` = W_ℓ Z_{ℓ-1} before σ.

    For a linear layer ``pre`` and ``post`` are the same tensor.
    """

    index: int  # ℓ, counted from 1
    linear: bool
    pre: torch.Tensor
    post: torch.Tensor


def _check_widths(name: str, widths: Sequence[int]) -> list[int]:
    widths = list(widths)
    for w in widths:
        if not isinstance(w, int) or isinstance(w, bool) or w < 1:
            raise ValueError(f"{name} must hold positive ints, got {widths!r}")
    return widths


class NCNet(nn.Module):
    """``L1 = len(nonlinear_widths)`` layers x ↦ σ(W x), then ``L2 = len(linear_widths) + 1``
    linear layers, the last one mapping to ``num_classes`` outputs.

    Initialisation (LeCun): W_ℓ has i.i.d. N(0, s_ℓ² / fan_in) entries, with
    ``init_scales`` s_ℓ (one float for all layers, or one per layer; default 1).
    ``seed`` makes the initialisation reproducible without touching the global RNG.
    """

    def __init__(
        self,
        in_dim: int,
        nonlinear_widths: Sequence[int],
        linear_widths: Sequence[int],
        num_classes: int,
        activation: str = "relu",
        init_scales: float | Sequence[float] = 1.0,
        bias: bool = False,
        seed: int | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        if not isinstance(in_dim, int) or in_dim < 1:
            raise ValueError(f"in_dim must be a positive int, got {in_dim!r}")
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        nonlinear_widths = _check_widths("nonlinear_widths", nonlinear_widths)
        linear_widths = _check_widths("linear_widths", linear_widths)

        self.activation = activation
        self.sigma = ACTIVATIONS[activation]
        self.L1 = len(nonlinear_widths)
        self.L2 = len(linear_widths) + 1
        self.widths = [in_dim, *nonlinear_widths, *linear_widths, num_classes]  # n_0, …, n_L
        self.num_classes = num_classes
        self.steps_trained = 0  # advanced by ``train``; histories count steps from here

        L = self.L1 + self.L2
        if isinstance(init_scales, (int, float)):
            init_scales = [float(init_scales)] * L
        init_scales = list(init_scales)
        if len(init_scales) != L or any(not s > 0 for s in init_scales):
            raise ValueError(f"init_scales must be one positive float or {L} of them, got {init_scales!r}")

        self.layers = nn.ModuleList(
            nn.Linear(n_in, n_out, bias=bias, dtype=dtype) for n_in, n_out in zip(self.widths[:-1], self.widths[1:])
        )
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            for layer, scale in zip(self.layers, init_scales):
                fan_in = layer.in_features
                w = torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64)
                layer.weight.copy_(w * (scale / math.sqrt(fan_in)))
                if layer.bias is not None:
                    layer.bias.zero_()

    @property
    def num_layers(self) -> int:
        """L = L1 + L2."""
        return self.L1 + self.L2

    def is_linear(self, index: int) -> bool:
        """Is layer ℓ = ``index`` (1-based) one of the linear head's layers?"""
        return index > self.L1

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        h = X
        for i, layer in enumerate(self.layers, start=1):
            h = layer(h)
            if i <= self.L1:
                h = self.sigma(h)
        return h

    def features(self, X: torch.Tensor) -> list[LayerOutput]:
        """Every layer's output Z_1, …, Z_L in order, with pre-activations (rows = samples)."""
        outputs = []
        h = X
        for i, layer in enumerate(self.layers, start=1):
            pre = layer(h)
            h = self.sigma(pre) if i <= self.L1 else pre
            outputs.append(LayerOutput(index=i, linear=i > self.L1, pre=pre, post=h))
        return outputs

    def weights(self) -> list[torch.Tensor]:
        """All weight matrices W_1, …, W_L (W_ℓ is n_ℓ × n_{ℓ-1})."""
        return [layer.weight for layer in self.layers]

    def linear_weights(self) -> list[torch.Tensor]:
        """The linear head's matrices W_{L1+1}, …, W_L."""
        return self.weights()[self.L1 :]

    def extra_repr(self) -> str:
        return f"L1={self.L1}, L2={self.L2}, widths={self.widths}, activation={self.activation!r}"
