"""The paper's network: ``L1`` non-linear layers, then ``L2`` linear layers.

    x ↦ σ(W_1 x) ↦ … ↦ σ(W_{L1} ·) ↦ W_{L1+1} · ↦ … ↦ W_L ·      (L = L1 + L2)

No biases anywhere (the setting second-hand summaries give for the theorems), so
the class means of a collapsed network form an orthogonal frame rather than a
simplex ETF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LOG2 = math.log(2.0)


def smooth_leaky(x: torch.Tensor) -> torch.Tensor:
    """σ(x) = 0.1 x + 0.9 (softplus(x) − log 2).

    Our choice, not the paper's: smooth, σ(0) = 0 and σ'(x) = 0.1 + 0.9 sigmoid(x) ∈ [0.1, 1],
    so it meets the slope condition σ' ∈ [γ, 1] (here γ = 0.1) that second-hand summaries
    give for the paper's gradient-descent theorem.
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


# ---------------------------------------------------------------- ResNet20 backbone + the same head


class _BasicBlock(nn.Module):
    """He et al.'s CIFAR block: two 3×3 convolutions with batch norm, ReLU, and a
    parameter-free shortcut (option A: subsample and pad channels with zeros)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, dtype: torch.dtype):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False, dtype=dtype)
        self.bn1 = nn.BatchNorm2d(out_channels, dtype=dtype)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, dtype=dtype)
        self.bn2 = nn.BatchNorm2d(out_channels, dtype=dtype)
        self.stride = stride
        self.pad = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return torch.relu(out + shortcut)


class ResNet20Net(nn.Module):
    """ResNet20 (He et al. 2016, the CIFAR version) as a backbone, then the paper's head.

    The backbone maps an image to 4·``base_width`` features (64 by default) by a 3×3
    convolution, three stages of three basic blocks (widths w, 2w, 4w; stride 2 at
    stages 2 and 3) and a global average pool. The head is an :class:`NCNet` on
    those features: ``len(nonlinear_widths)`` ReLU layers then ``len(linear_widths) + 1``
    linear layers, bias-free. Second-hand summaries describe the paper's ResNet figure as
    ResNet20 + 3 ReLU + 3 linear layers.

    Inputs are rows, as everywhere in ncutils: ``X`` is N × (C·H·W) (how
    :func:`ncutils.cifar10` returns images) and is reshaped to N×C×H×W.
    ``features``, ``weights``, ``L1``, ``L2`` and ``widths`` are the head's, counted
    from the head's first layer, so ``collapse_report`` and ``train`` treat this
    model like an ``NCNet`` whose input is the backbone's output.

    ``head_init_scales``: the head's ``init_scales`` (see :class:`NCNet`): a scale below 1 for
    the linear layers starts a deep linear head small, which keeps large learning rates stable
    (its layers' gradients scale with the product of the others).

    Batch norm: under autograd (training) it uses the batch's statistics; without
    gradients (metrics, recorded losses) the backbone runs in evaluation mode with
    the running statistics, over blocks of ``eval_chunk`` images, so measuring
    50,000 images never holds all their activations at once.
    """

    def __init__(
        self,
        num_classes: int,
        nonlinear_widths: Sequence[int] = (),
        linear_widths: Sequence[int] = (),
        activation: str = "relu",
        in_channels: int = 3,
        image_size: int = 32,
        base_width: int = 16,
        blocks_per_stage: int = 3,
        head_init_scales: float | Sequence[float] = 1.0,
        seed: int | None = None,
        dtype: torch.dtype = torch.float32,
        eval_chunk: int = 1024,
    ):
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("image_size", image_size),
            ("base_width", base_width),
            ("blocks_per_stage", blocks_per_stage),
            ("eval_chunk", eval_chunk),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if base_width % 2:
            raise ValueError(f"base_width must be even (the shortcut pads channels), got {base_width!r}")
        self.in_channels, self.image_size, self.eval_chunk = in_channels, image_size, eval_chunk
        widths = [base_width, 2 * base_width, 4 * base_width]
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            layers = [
                nn.Conv2d(in_channels, base_width, 3, 1, 1, bias=False, dtype=dtype),
                nn.BatchNorm2d(base_width, dtype=dtype),
                nn.ReLU(),
            ]
            channels = base_width
            for stage, width in enumerate(widths):
                for block in range(blocks_per_stage):
                    stride = 2 if stage > 0 and block == 0 else 1
                    layers.append(_BasicBlock(channels, width, stride, dtype))
                    channels = width
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            self.backbone = nn.Sequential(*layers)
            for module in self.backbone.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        self.head = NCNet(
            channels,
            nonlinear_widths,
            linear_widths,
            num_classes,
            activation=activation,
            init_scales=head_init_scales,
            seed=seed,
            dtype=dtype,
        )
        self.activation = activation
        self.num_classes = num_classes

    # the head's bookkeeping, so that train() and collapse_report() see the same interface as NCNet
    L1 = property(lambda self: self.head.L1)
    L2 = property(lambda self: self.head.L2)
    widths = property(lambda self: self.head.widths)  # n_0 = backbone features, …, n_L = K
    layers = property(lambda self: self.head.layers)
    num_layers = property(lambda self: self.head.num_layers)

    def is_linear(self, index: int) -> bool:
        return self.head.is_linear(index)

    def backbone_features(self, X: torch.Tensor) -> torch.Tensor:
        """The backbone's output, N × 4·base_width (rows = samples)."""
        expected = self.in_channels * self.image_size * self.image_size
        if X.dim() != 2 or X.shape[1] != expected:
            raise ValueError(
                f"X must be N × {expected} (C·H·W = {self.in_channels}·{self.image_size}·{self.image_size}), "
                f"got shape {tuple(X.shape)}"
            )
        images = X.reshape(X.shape[0], self.in_channels, self.image_size, self.image_size)
        if torch.is_grad_enabled():
            return self.backbone(images)
        was_training = self.backbone.training
        self.backbone.eval()
        try:
            return torch.cat(
                [self.backbone(images[i : i + self.eval_chunk]) for i in range(0, len(images), self.eval_chunk)]
            )
        finally:
            self.backbone.train(was_training)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone_features(X))

    def features(self, X: torch.Tensor) -> list[LayerOutput]:
        """The head's layer outputs Z_1, …, Z_L (Z_0 is the backbone's output)."""
        return self.head.features(self.backbone_features(X))

    def weights(self) -> list[torch.Tensor]:
        """The head's weight matrices (the convolutions are not part of the layer-wise metrics)."""
        return self.head.weights()

    def linear_weights(self) -> list[torch.Tensor]:
        return self.head.linear_weights()

    def extra_repr(self) -> str:
        return f"ResNet20 backbone → head L1={self.L1}, L2={self.L2}, widths={self.widths}"


def data_for(model, data):
    """``data`` on ``model``'s device, its inputs in the model's dtype (labels stay int64):
    what every function that feeds a data set through a network needs first."""
    weight = model.weights()[0]
    return data.to(weight.device, weight.dtype)
