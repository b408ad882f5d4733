"""One experiment of the paper at one scale (a :class:`Preset`), and the data and networks it names.

A *preset* is one figure of the paper at one *scale*:

* ``paper``: the paper's settings where its caption or second-hand summaries report them (full
  MNIST / CIFAR-10 read from local files, GPU expected); what they do not report is our choice and
  says so in the preset's ``notes``;
* ``laptop``: the same experiment, shrunk to finish in minutes on 2 CPU cores;
* ``tiny``: a few steps on a Gaussian mixture, for the tests (same code path).

A preset trains several *variants* (e.g. one per linear-head depth L2), each for several seeds.
The catalogue of presets is :mod:`ncutils.catalogue`; the runner is :mod:`ncutils.runner`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from . import data as datasets
from .models import NCNet, ResNet20Net
from .schedules import constant
from .train import TrainConfig

SCALES = ("laptop", "paper", "tiny")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
CLASS_MEAN_LAYERS = 4  # class-mean matrices are stored for the last this-many layers


class PresetError(ValueError):
    """A preset or scale that does not exist (a usage error: exit code 2 on the command line)."""


@dataclass(frozen=True)
class Variant:
    """One network of a preset: the head and backbone widths and its own η, λ."""

    label: str
    nonlinear_widths: tuple[int, ...]
    linear_widths: tuple[int, ...]
    lr: float
    weight_decay: float


@dataclass(frozen=True)
class Preset:
    """One experiment at one scale. ``data`` is a loader name (see :func:`load_data`)."""

    name: str
    scale: str
    figure: str  # which figure of the paper, with the status of that identification (verified / second-hand)
    description: str
    data: str  # mnist_subset | digits | mnist | cifar10 | gaussian | gaussian_images
    per_class: int | None
    backbone: str  # mlp | resnet20
    variants: tuple[Variant, ...]
    steps: int
    record_every: int
    checkpoint_every: int
    seeds: int
    batch_size: int | None = None
    momentum: float = 0.0
    lr_drop_fraction: float | None = 0.8  # the learning rate is divided by 10 after this fraction of steps
    warmup_steps: int = 0  # a linear warm-up of the learning rate from 10% over this many steps (0: none):
    # it keeps a large η from blowing up a network in its first steps (see ncutils.schedules)
    activation: str = "relu"
    loss: str = "mse"  # the data term (see ncutils.steps): "mse", the paper's, or "ce"
    dtype: str = "float32"
    init_scale: float = (
        1.0  # mlp only: ReLU layers start from N(0, init_scale²/fan_in) (1: LeCun, √2: He); linear layers from LeCun
    )
    linear_init_scale: float = 1.0  # the linear layers start from N(0, linear_init_scale²/fan_in) (mlp and resnet20)
    class_mean_layers: int = CLASS_MEAN_LAYERS  # the JSON keeps the final class means of this many last layers
    in_channels: int = 3  # resnet20 only
    image_size: int = 32
    base_width: int = 16  # resnet20 only: channels of the first stage (16 in He et al.'s ResNet20)
    notes: str = ""

    def __post_init__(self):
        if self.record_every < 1 or self.checkpoint_every % self.record_every or self.steps % self.record_every:
            raise ValueError(
                f"preset {self.name!r}: steps ({self.steps}) and checkpoint_every ({self.checkpoint_every}) "
                f"must be multiples of record_every ({self.record_every})"
            )

    @property
    def lr_drop_step(self) -> int | None:
        return None if self.lr_drop_fraction is None else int(self.lr_drop_fraction * self.steps)

    def schedule(self, variant: Variant):
        """The learning rate of ``variant`` as a function of the step: warm-up, then a drop ×0.1."""
        lr = constant(variant.lr)
        if self.warmup_steps:
            lr = lr.warm_up(self.warmup_steps)
        return lr if self.lr_drop_step is None else lr.drop(at=self.lr_drop_step, factor=0.1)

    def train_config(self, variant: Variant, seed: int, device: str) -> TrainConfig:
        return TrainConfig(
            lr=self.schedule(variant),
            weight_decay=variant.weight_decay,
            steps=self.steps,
            batch_size=self.batch_size,
            momentum=self.momentum,
            loss=self.loss,
            seed=seed,
            device=device,
            record=self.record_every,
            progress=False,
        )


# ---------------------------------------------------------------- data and models


def load_data(preset: Preset, data_root: str | os.PathLike = "data", dtype: torch.dtype = torch.float32):
    """The preset's training set. ``mnist``/``cifar10`` read files under ``data_root`` (never downloaded)."""
    if preset.data == "mnist_subset":
        return datasets.mnist_subset(per_class=preset.per_class, dtype=dtype)
    if preset.data == "digits":
        return datasets.digits(per_class=preset.per_class, dtype=dtype)
    if preset.data == "mnist":
        return datasets.mnist(data_root, per_class=preset.per_class, dtype=dtype)
    if preset.data == "cifar10":
        return datasets.cifar10(data_root, per_class=preset.per_class, dtype=dtype)
    if preset.data == "gaussian":
        return datasets.gaussian_mixture(3, preset.per_class, 12, seed=0, dtype=dtype)
    if preset.data == "gaussian_images":
        size = preset.in_channels * preset.image_size**2
        return datasets.gaussian_mixture(3, preset.per_class, size, separation=3.0, seed=0, dtype=dtype)
    raise PresetError(f"preset {preset.name!r} names an unknown data source {preset.data!r}")


def build_model(preset: Preset, variant: Variant, in_dim: int, num_classes: int, seed: int, dtype: torch.dtype):
    """The network of one (variant, seed): an :class:`NCNet` or a :class:`ResNet20Net` with the same head."""
    linear_scales = [preset.linear_init_scale] * (len(variant.linear_widths) + 1)
    if preset.backbone == "mlp":
        scales = [preset.init_scale] * len(variant.nonlinear_widths) + linear_scales
        return NCNet(
            in_dim,
            variant.nonlinear_widths,
            variant.linear_widths,
            num_classes,
            activation=preset.activation,
            init_scales=scales,
            seed=seed,
            dtype=dtype,
        )
    if preset.backbone == "resnet20":
        return ResNet20Net(
            num_classes,
            variant.nonlinear_widths,
            variant.linear_widths,
            activation=preset.activation,
            in_channels=preset.in_channels,
            image_size=preset.image_size,
            base_width=preset.base_width,
            head_init_scales=[1.0] * len(variant.nonlinear_widths) + linear_scales,
            seed=seed,
            dtype=dtype,
        )
    raise PresetError(f"preset {preset.name!r} names an unknown backbone {preset.backbone!r}")


# ---------------------------------------------------------------- GPU time estimates


def estimate_flops(preset: Preset, num_samples: int) -> float:
    """Rough floating-point operations of a preset: 6 × parameters-in-matmuls × samples per step
    (forward + backward), plus one full-data forward (2×) per recorded step. An estimate, not a measurement."""
    total = 0.0
    for variant in preset.variants:
        head_in = {"mlp": None, "resnet20": 4 * preset.base_width}[preset.backbone]
        in_dim = 784 if preset.data in ("mnist", "mnist_subset") else 3072 if preset.data == "cifar10" else 64
        widths = [head_in or in_dim, *variant.nonlinear_widths, *variant.linear_widths, 10]
        head = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
        backbone = 0.0
        if preset.backbone == "resnet20":  # ≈ 41 M multiply-adds per 32×32 image at width 16 (He et al. 2016)
            backbone = 41e6 * (preset.image_size / 32) ** 2 * (preset.base_width / 16) ** 2
        per_sample = head + backbone
        batch = preset.batch_size or num_samples
        train_flops = 6 * per_sample * batch * preset.steps
        record_flops = 2 * per_sample * num_samples * (preset.steps // preset.record_every + 1)
        total += (train_flops + record_flops) * preset.seeds
    return total


def estimate_gpu_hours(
    preset: Preset, num_samples: int, flops_per_second: float = 10e12, seconds_per_step: float = 1e-3
) -> float:
    """Hours on one modern GPU: the larger of FLOPs / ``flops_per_second`` (10 TFLOP/s sustained)
    and steps × ``seconds_per_step`` (launch overhead of small layers). An estimate."""
    flops = estimate_flops(preset, num_samples)
    steps = preset.steps * preset.seeds * len(preset.variants)
    return max(flops / flops_per_second, steps * seconds_per_step) / 3600
