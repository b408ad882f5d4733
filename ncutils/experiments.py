"""The paper's experiments as presets: run them, checkpoint them, save and load their results.

    python -m ncutils list                              # presets, one line each
    python -m ncutils run mlp_layerwise --scale laptop  # one preset → results/mlp_layerwise/*.json

A *preset* is one figure of the paper at one *scale*. Which figure, and with which
settings, is known to us for one figure from its caption (Figure 1 of arXiv v1: the 9-layer
MLP on MNIST, λ = 0.0018, η = 0.001, 5 runs) and for the others only from second-hand
summaries of the paper, not checked against its text; each preset's ``figure`` says which.

* ``paper``: the paper's settings where the caption or the summaries report them (full MNIST /
  CIFAR-10 read from local files, GPU expected); what they do not report (widths, optimizer,
  batch size, the learning-rate schedule) is our choice and says so in the preset's ``notes``;
* ``laptop``: the same experiment, shrunk to finish in minutes on 2 CPU cores
  (the offline 5,000-image MNIST subset, smaller widths, full-batch GD, fewer steps);
* ``tiny``: a few steps on a Gaussian mixture, for the tests (same code path).

A preset trains several *variants* (e.g. one per linear-head depth L2), each for
several seeds. Every (variant, seed) run is written as one JSON file
``<out>/<preset>/<variant>_seed<k>.json`` (atomically) holding the configuration, the
seed, library versions, the device, the command line, the per-layer metric history and
the final class-mean matrices of the last layers. Training goes in chunks of
``record_every`` steps; every ``checkpoint_every`` steps the state (weights, momentum
buffers, histories) is saved, and ``resume=True`` continues an interrupted run to the
same final numbers as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import data as datasets
from .metrics import class_means, nc1, nc2
from .models import NCNet, ResNet20Net
from .sweep import train_sweep
from .train import History, TrainConfig, train
from .utils import pick_device, progress_enabled

SCALES = ("laptop", "paper", "tiny")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
RESULTS_ENV = "NCUTILS_RESULTS"  # where the book's notebooks look for results (default: book/results)
CLASS_MEAN_LAYERS = 4  # class-mean matrices are stored for the last this-many layers


class PresetError(ValueError):
    """A preset or scale that does not exist (a usage error: exit code 2 on the command line)."""


# ---------------------------------------------------------------- presets


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
    activation: str = "relu"
    dtype: str = "float32"
    init_scale: float = (
        1.0  # mlp only: ReLU layers start from N(0, init_scale²/fan_in) (1: LeCun, √2: He); linear layers from LeCun
    )
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

    def train_config(self, variant: Variant, seed: int, device: str) -> TrainConfig:
        return TrainConfig(
            lr=variant.lr,
            weight_decay=variant.weight_decay,
            steps=self.record_every,
            batch_size=self.batch_size,
            momentum=self.momentum,
            lr_drop_step=self.lr_drop_step,
            seed=seed,
            device=device,
            record_every=self.record_every,
            progress=False,
        )


def _head_depth_variants(nonlinear, linear_width, depths, lr, weight_decays):
    return tuple(
        Variant(
            f"L2={depth}" + (f"_wd={wd:g}" if len(weight_decays) > 1 else ""),
            tuple(nonlinear),
            (linear_width,) * (depth - 1),
            lr,
            wd,
        )
        for wd in weight_decays
        for depth in depths
    )


def _backbone_depth_variants(width, depths, linear, lr, wd_times_depth):
    return tuple(
        Variant(f"L1={depth}", (width,) * depth, tuple(linear), lr, wd_times_depth / (depth + len(linear) + 1))
        for depth in depths
    )


SECOND_HAND = "second-hand summaries of the paper (not checked against its text)"
UNREPORTED = (
    "Given neither by the v1 caption nor by the summaries, and chosen by us: widths, optimizer (SGD, "
    "momentum 0.9), batch size 128, the learning-rate drop ×0.1 at 80% of training (the summaries say "
    "only that the paper lowers the learning rate after about 80% of training)."
)


def _mlp_layerwise(scale):
    common = dict(
        name="mlp_layerwise",
        scale=scale,
        figure="Figure 1 of arXiv v1 (verified caption)",
        description="9-layer MLP (5 ReLU + 4 linear) on MNIST: NC1, NC2, balancedness, negativity per layer",
        backbone="mlp",
    )
    if scale == "paper":  # λ 0.0018, η 0.001, 5 runs: the v1 caption (verified); 10,000 epochs: second-hand
        return Preset(
            **common,
            data="mnist",
            per_class=None,
            steps=10_000 * 424,
            record_every=424 * 100,
            checkpoint_every=424 * 500,
            seeds=5,
            batch_size=128,
            momentum=0.9,
            variants=(Variant("main", (1024,) * 5, (1024,) * 3, 1e-3, 1.8e-3),),
            notes="λ = 0.0018, η = 0.001 and 5 runs: the caption of Figure 1 of arXiv v1 (verified); "
            f"5 ReLU + 4 linear layers and 10,000 epochs: {SECOND_HAND}. " + UNREPORTED,
        )
    if scale == "laptop":
        return Preset(
            **common,
            data="mnist_subset",
            per_class=50,
            steps=4000,
            record_every=200,
            checkpoint_every=1000,
            seeds=3,
            variants=(Variant("main", (128,) * 5, (64,) * 3, 0.1, 1e-2),),
            notes="Full-batch GD on 500 images of the offline MNIST subset; widths 128 (ReLU) and 64 "
            "(linear); η = 0.1 and λ = 0.01, raised from the paper's so that 4,000 steps reach "
            "the late phase.",
        )
    return Preset(
        **common,
        data="gaussian",
        per_class=4,
        steps=20,
        record_every=10,
        checkpoint_every=10,
        seeds=2,
        variants=(Variant("main", (16,) * 5, (8,) * 3, 0.05, 5e-3),),
        notes="tiny: for the tests",
    )


def _mlp_head_depth(scale):
    common = dict(
        name="mlp_head_depth",
        scale=scale,
        figure="Figure 2, top (second-hand)",
        description="MLP with 5 ReLU layers and a linear head of depth L2 = 1…6 on MNIST: final NC1, NC2",
        backbone="mlp",
    )
    if scale == "paper":  # λ ∈ {1e-3, 4e-3}, η 1e-3: second-hand
        return Preset(
            **common,
            data="mnist",
            per_class=None,
            steps=5_000 * 424,
            record_every=424 * 100,
            checkpoint_every=424 * 500,
            seeds=5,
            batch_size=128,
            momentum=0.9,
            variants=_head_depth_variants((1024,) * 5, 1024, range(1, 7), 1e-3, (1e-3, 4e-3)),
            notes=f"λ ∈ {{1e-3, 4e-3}}, η = 1e-3 and heads of 1 to 5 linear layers: {SECOND_HAND}. "
            + UNREPORTED
            + " The sixth head depth and the epochs (5,000) are ours too.",
        )
    if scale == "laptop":
        return Preset(
            **common,
            data="digits",
            per_class=50,
            steps=3000,
            record_every=500,
            checkpoint_every=1000,
            seeds=3,
            variants=_head_depth_variants((64,) * 5, 32, range(1, 7), 0.1, (5e-3,)),
            class_mean_layers=2,
            notes="Full-batch GD on 500 of scikit-learn's 8×8 digits (64 pixels: six networks fit in "
            "minutes); widths 64 (ReLU) and 32 (linear); η = 0.1, λ = 0.005.",
        )
    return Preset(
        **common,
        data="gaussian",
        per_class=4,
        steps=20,
        record_every=10,
        checkpoint_every=10,
        seeds=2,
        variants=_head_depth_variants((16,) * 2, 8, (1, 2, 3), 0.05, (5e-3,)),
        notes="tiny: for the tests",
    )


def _mlp_backbone_depth(scale):
    common = dict(
        name="mlp_backbone_depth",
        scale=scale,
        figure="Figure 3 (second-hand)",
        description="MLP backbone of depth L1 = 4…12, λ = 0.016/L: balancedness and negativity of the ReLU layers",
        backbone="mlp",
    )
    if scale == "paper":  # η ∈ {1e-3, 2e-3}, λ = 0.016 / L: second-hand
        return Preset(
            **common,
            data="mnist",
            per_class=None,
            steps=5_000 * 424,
            record_every=424 * 100,
            checkpoint_every=424 * 500,
            seeds=5,
            batch_size=128,
            momentum=0.9,
            variants=_backbone_depth_variants(1024, range(4, 13, 2), (1024,) * 2, 1e-3, 0.016),
            notes=f"λ = 0.016/L and η = 1e-3 (of the 1e-3 and 2e-3 they give): {SECOND_HAND}. "
            + UNREPORTED
            + " Epochs (5,000) and a 3-layer linear head are ours too.",
        )
    if scale == "laptop":
        return Preset(
            **common,
            data="digits",
            per_class=50,
            steps=3000,
            record_every=500,
            checkpoint_every=1000,
            seeds=3,
            variants=_backbone_depth_variants(64, (4, 6, 8, 10, 12), (32,) * 2, 0.1, 0.016 * 4),
            class_mean_layers=0,
            notes="Full-batch GD on 500 of scikit-learn's 8×8 digits; width 64 (ReLU) and 32 (linear); "
            "η = 0.1 and λ = 0.064/L (4× the 0.016/L that second-hand summaries give for the "
            "paper's figure, so that 3,000 steps get somewhere).",
        )
    return Preset(
        **common,
        data="gaussian",
        per_class=4,
        steps=20,
        record_every=10,
        checkpoint_every=10,
        seeds=2,
        variants=_backbone_depth_variants(16, (2, 4), (8,), 0.05, 0.016),
        notes="tiny: for the tests",
    )


def _resnet(
    name,
    figure,
    description,
    data,
    variants_paper,
    variants_tiny,
    in_channels,
    image_size,
    epochs,
    sources,
    laptop=None,
):
    """A ResNet20 preset; ``laptop`` (a dict of Preset fields, or None) is its CPU version on MNIST."""

    def make(scale):
        common = dict(
            name=name,
            scale=scale,
            figure=figure,
            description=description,
            backbone="resnet20",
            in_channels=in_channels,
            image_size=image_size,
        )
        if scale == "paper":
            per_epoch = 391 if data == "cifar10" else 424
            return Preset(
                **common,
                data=data,
                per_class=None,
                steps=epochs * per_epoch,
                record_every=per_epoch * 50,
                checkpoint_every=per_epoch * 250,
                seeds=5,
                batch_size=128,
                momentum=0.9,
                variants=variants_paper,
                notes=sources + " " + UNREPORTED.replace("widths", "head widths (512)"),
            )
        if scale == "laptop":
            return None if laptop is None else Preset(**{**common, **laptop})
        return Preset(
            **common,
            data="gaussian_images",
            per_class=3,
            steps=4,
            record_every=2,
            checkpoint_every=2,
            seeds=1,
            variants=variants_tiny,
            notes="tiny: for the tests",
        )

    return make


_resnet_layerwise = _resnet(
    "resnet_layerwise",
    "Figure 1 of the camera-ready (second-hand)",
    "ResNet20 + 3 ReLU + 3 linear layers on CIFAR-10: NC1, NC2, balancedness, negativity per head layer",
    "cifar10",
    (Variant("main", (512,) * 3, (512,) * 2, 1e-3, 1e-3),),
    (Variant("main", (8,), (8,), 0.01, 1e-3),),
    3,
    32,
    5000,
    f"η = λ = 1e-3, 5,000 epochs, 3 ReLU + 3 linear layers after the ResNet20: {SECOND_HAND}.",
    laptop=dict(
        description="ResNet20 (half width) + 3 ReLU + 3 linear layers on MNIST: NC1, NC2, balancedness, "
        "negativity per head layer",
        data="mnist_subset",
        per_class=50,
        in_channels=1,
        image_size=28,
        base_width=8,
        steps=2000,
        record_every=100,
        checkpoint_every=500,
        seeds=2,
        batch_size=100,
        momentum=0.9,
        variants=(Variant("main", (64,) * 3, (64,) * 2, 0.05, 5e-3),),
        notes="CIFAR-10 is not shipped, so the laptop version trains on 500 images of the offline MNIST "
        "subset (one channel, 28×28), with a ResNet20 of half the usual width (8, 16, 32 channels), "
        "head widths 64, SGD (batch 100, momentum 0.9), η = 0.05, λ = 0.005, 2,000 steps.",
    ),
)
_resnet_head_depth = _resnet(
    "resnet_head_depth",
    "Figure 2, bottom (second-hand)",
    "ResNet20 + a linear head of depth L2 = 1…6 on CIFAR-10: final NC1, NC2",
    "cifar10",
    _head_depth_variants((), 512, range(1, 7), 1e-3, (1e-3,)),
    _head_depth_variants((), 8, (1, 2), 0.01, (1e-3,)),
    3,
    32,
    1000,
    f"η = λ = 1e-3 and heads of 1 to 6 linear layers: {SECOND_HAND}; the 1,000 epochs are ours.",
)
_resnet_mnist_head_depth = _resnet(
    "resnet_mnist_head_depth",
    "an appendix figure (second-hand)",
    "ResNet20 + a linear head of depth L2 = 1…6 on MNIST: final NC1, NC2",
    "mnist",
    _head_depth_variants((), 512, range(1, 7), 1e-3, (1e-3,)),
    _head_depth_variants((), 8, (2,), 0.01, (1e-3,)),
    1,
    28,
    1000,
    f"A ResNet20 on MNIST with heads of varying depth: {SECOND_HAND}; η = λ = 1e-3 (as for CIFAR-10) and the "
    "1,000 epochs are ours.",
)

_FACTORIES = {
    "mlp_layerwise": _mlp_layerwise,
    "mlp_head_depth": _mlp_head_depth,
    "mlp_backbone_depth": _mlp_backbone_depth,
    "resnet_layerwise": _resnet_layerwise,
    "resnet_head_depth": _resnet_head_depth,
    "resnet_mnist_head_depth": _resnet_mnist_head_depth,
}
PRESET_NAMES = tuple(_FACTORIES)


def get_preset(name: str, scale: str = "laptop") -> Preset:
    """The preset ``name`` at ``scale``; a :class:`PresetError` names what exists."""
    if name not in _FACTORIES:
        raise PresetError(f"unknown preset {name!r}; choose one of: {', '.join(PRESET_NAMES)}")
    if scale not in SCALES:
        raise PresetError(f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
    preset = _FACTORIES[name](scale)
    if preset is None:
        raise PresetError(
            f"preset {name!r} has no {scale!r} scale (it needs CIFAR-10/MNIST files, which are not "
            f"shipped): use --scale paper"
        )
    return preset


def list_presets() -> list[tuple[str, str, str, str]]:
    """(name, figure, scales, description) for every preset."""
    rows = []
    for name in PRESET_NAMES:
        scales = [s for s in ("laptop", "paper") if _FACTORIES[name](s) is not None]
        paper = _FACTORIES[name]("paper")
        rows.append((name, paper.figure, "/".join(scales), paper.description))
    return rows


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
    if preset.backbone == "mlp":
        scales = [preset.init_scale] * len(variant.nonlinear_widths) + [1.0] * (len(variant.linear_widths) + 1)
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
            seed=seed,
            dtype=dtype,
        )
    raise PresetError(f"preset {preset.name!r} names an unknown backbone {preset.backbone!r}")


# ---------------------------------------------------------------- files


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as JSON through a temporary file and a rename: a reader never sees half a file."""
    path = Path(path)
    _atomic_write(path, "w", lambda f: json.dump(obj, f, separators=(",", ":")))


def _atomic_write(path: Path, mode: str, write) -> None:
    """``write(file)`` into a temporary file beside ``path``, then rename it over ``path``.
    If writing fails, the temporary file is removed and ``path`` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(mode, dir=path.parent, suffix=".tmp", delete=False) as f:
        try:
            write(f)
        except BaseException:
            f.close()
            os.unlink(f.name)
            raise
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(f.name, 0o666 & ~umask)  # a temporary file is private (0600); results are ordinary files
    os.replace(f.name, path)


def _save_checkpoint(path: Path, state: dict) -> None:
    """torch.save through a temporary file and a rename (an interrupted save keeps the previous checkpoint)."""
    _atomic_write(path, "wb", lambda f: torch.save(state, f))


def _load_checkpoint(path: Path) -> dict:
    """A checkpoint's state, read with ``weights_only=True``: tensors and plain Python values only,
    so a crafted file cannot run code. A file that cannot be read gives one error naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # UnpicklingError (refused content), RuntimeError (not a zip), EOFError, ...
        raise PresetError(
            f"the checkpoint {path} cannot be read ({type(error).__name__}): it is damaged or was not written "
            "by ncutils; delete it to start this variant again"
        ) from None
    if not isinstance(state, dict) or "fingerprint" not in state:
        raise PresetError(f"the checkpoint {path} is not an ncutils checkpoint; delete it to start this variant again")
    return state


def run_path(out: str | os.PathLike, preset: str, variant: str, seed: int) -> Path:
    return Path(out) / preset / f"{variant}_seed{seed}.json"


def versions() -> dict:
    from . import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "ncutils": __version__,
        "platform": platform.platform(terse=True),
    }


# ---------------------------------------------------------------- running


@dataclass
class RunOutput:
    """One finished (variant, seed): where its JSON went, what it holds, and the trained model."""

    path: Path
    result: dict
    model: torch.nn.Module | None = field(repr=False)  # None when a resumed run found it already finished


def _fingerprint(preset: Preset, variant: Variant, seeds: Sequence[int]) -> dict:
    return {"preset": dataclasses.asdict(preset), "variant": dataclasses.asdict(variant), "seeds": list(seeds)}


def _data_like_model(model, data) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` on the model's device, ``X`` in its dtype."""
    weight = model.weights()[0]
    return data.X.to(weight.device, weight.dtype), data.y.to(weight.device)


def _final_class_means(model, data, layers: int) -> dict:
    """Class means (K × n_ℓ, float64) of the last ``layers`` layers after training."""
    if layers == 0:
        return {}
    X, y = _data_like_model(model, data)
    with torch.no_grad():
        outputs = model.features(X)
    return {str(out.index): class_means(out.post, y, data.num_classes).cpu().tolist() for out in outputs[-layers:]}


def _backbone_final(model, data) -> dict | None:
    """Final NC1 and NC2 of a ResNet's backbone output (the head's input, layer 0), which the
    per-layer history does not cover; with a one-layer head it is the penultimate layer. None for an MLP."""
    if not isinstance(model, ResNet20Net):
        return None
    X, y = _data_like_model(model, data)
    with torch.no_grad():
        Z = model.backbone_features(X)
    return {"nc1": float(nc1(Z, y)), "nc2": float(nc2(Z, y))}


def _finished_runs(preset: Preset, variant: Variant, seeds: Sequence[int], out) -> list[RunOutput] | None:
    """The JSON results of this exact (preset, variant, seeds), if all of them exist; else None."""
    expected = json.loads(
        json.dumps({"preset_config": dataclasses.asdict(preset), "variant_config": dataclasses.asdict(variant)})
    )
    outputs = []
    for seed in seeds:
        path = run_path(out, preset.name, variant.label, seed)
        if not path.is_file():
            return None
        result = json.loads(path.read_text())
        if any(result.get(key) != value for key, value in expected.items()):
            return None
        outputs.append(RunOutput(path, result, None))
    return outputs


def run_variant(
    preset: Preset,
    variant: Variant,
    data,
    seeds: Sequence[int],
    *,
    device: str = "auto",
    out: str | os.PathLike = "results",
    resume: bool = False,
    command: str = "",
    bar=None,
) -> list[RunOutput]:
    """Train one variant for every seed (chunked, checkpointed); write one JSON per seed."""
    dtype = DTYPES[preset.dtype]
    torch_device = pick_device(device)
    data = data.to(dtype=dtype)
    models = [build_model(preset, variant, data.dim, data.num_classes, seed, dtype) for seed in seeds]
    configs = [preset.train_config(variant, seed, device) for seed in seeds]
    histories = [History() for _ in seeds]
    vectorised = preset.backbone == "mlp" and preset.batch_size is None and preset.momentum == 0 and len(seeds) > 1
    checkpoint = Path(out) / preset.name / f"{variant.label}.checkpoint.pt"
    fingerprint = _fingerprint(preset, variant, seeds)
    seconds = 0.0

    if resume:  # a variant finished before the interruption is not trained again
        finished = _finished_runs(preset, variant, seeds, out)
        if finished is not None:
            if bar is not None:
                bar.update(preset.steps * len(seeds))
            return finished

    if resume and checkpoint.is_file():
        state = _load_checkpoint(checkpoint)
        if state["fingerprint"] != fingerprint:
            raise PresetError(
                f"the checkpoint {checkpoint} was written by another configuration; delete it or run without --resume"
            )
        for model, weights, buffers in zip(models, state["models"], state["buffers"]):
            model.load_state_dict(weights)
            model.steps_trained = state["steps"]
            if buffers is not None:
                model.momentum_buffers = buffers
        histories = [History(**h) for h in state["histories"]]
        seconds = state["seconds"]
        if bar is not None:
            bar.update(state["steps"] * len(seeds))

    def save_checkpoint():
        _save_checkpoint(
            checkpoint,
            {
                "fingerprint": fingerprint,
                "steps": models[0].steps_trained,
                "seconds": seconds,
                "models": [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in models],
                "buffers": [
                    [b.detach().cpu() for b in m.momentum_buffers] if hasattr(m, "momentum_buffers") else None
                    for m in models
                ],
                "histories": [h.to_dict() for h in histories],
            },
        )

    while models[0].steps_trained < preset.steps:
        start = time.perf_counter()
        if vectorised:
            histories = train_sweep(models, data, configs, histories)
        else:
            for model, config, history in zip(models, configs, histories):
                train(model, data, config, history)
                if history.interrupted:
                    raise KeyboardInterrupt
                if bar is not None:
                    bar.update(preset.record_every)
        if vectorised and bar is not None:
            bar.update(preset.record_every * len(seeds))
        seconds += time.perf_counter() - start
        if bar is not None:
            watched = -2 if len(histories[0].final["nc1"]) > 1 else -1
            bar.set_postfix(
                variant=variant.label,
                loss=f"{histories[0].loss[-1]:.3g}",
                nc1=f"{histories[0].final['nc1'][watched]:.3g}",
            )
        done = models[0].steps_trained
        if done % preset.checkpoint_every == 0 and done < preset.steps:
            save_checkpoint()

    outputs = []
    for model, seed, history, config in zip(models, seeds, histories, configs):
        history.config = {**dataclasses.asdict(config), "steps": preset.steps}
        result = {
            "format": 1,
            "preset": preset.name,
            "scale": preset.scale,
            "figure": preset.figure,
            "variant": variant.label,
            "seed": seed,
            "command": command,
            "preset_config": dataclasses.asdict(preset),
            "variant_config": dataclasses.asdict(variant),
            "data": {
                "name": data.name,
                "num_samples": data.num_samples,
                "num_classes": data.num_classes,
                "per_class": data.per_class,
                "dim": data.dim,
            },
            "versions": versions(),
            "device": str(torch_device),
            "threads": torch.get_num_threads(),
            "seconds": seconds / len(seeds),
            "vectorised_over_seeds": vectorised,
            "history": history.to_dict(),
            "class_means": _final_class_means(model, data, preset.class_mean_layers),
            "backbone_final": _backbone_final(model, data),
        }
        path = run_path(out, preset.name, variant.label, seed)
        write_json_atomic(path, result)
        outputs.append(RunOutput(path, result, model))
    checkpoint.unlink(missing_ok=True)
    return outputs


def run_preset(
    preset: str | Preset,
    scale: str = "laptop",
    *,
    seeds: int | None = None,
    device: str = "auto",
    out: str | os.PathLike = "results",
    data_root: str | os.PathLike = "data",
    resume: bool = False,
    progress: bool | None = None,
    command: str = "",
) -> list[RunOutput]:
    """Run every variant of a preset for ``seeds`` seeds (default: the preset's); return the runs.

    ``preset`` is a name (looked up at ``scale``) or a :class:`Preset`. Raises
    :class:`PresetError` for an unknown preset or scale, ``FileNotFoundError`` (naming the
    file and the folder) when the data are missing, ``RuntimeError`` when CUDA is asked
    for and absent.
    """
    preset = get_preset(preset, scale) if isinstance(preset, str) else preset
    if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1):
        raise PresetError(f"seeds must be a positive int, got {seeds!r}")
    pick_device(device)  # fail before loading anything
    data = load_data(preset, data_root)
    seed_list = list(range(preset.seeds if seeds is None else seeds))
    total = preset.steps * len(seed_list) * len(preset.variants)
    outputs = []
    with tqdm(total=total, disable=not progress_enabled(progress), desc=preset.name) as bar:
        for variant in preset.variants:
            outputs += run_variant(
                preset, variant, data, seed_list, device=device, out=out, resume=resume, command=command, bar=bar
            )
    return outputs


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


# ---------------------------------------------------------------- reading results (the book's notebooks)


def results_dir(default: str | os.PathLike = "results") -> Path:
    """The results folder: ``$NCUTILS_RESULTS`` if set, else ``default`` (the book's notebooks
    run in ``book/``, where ``results`` holds the shipped laptop-scale runs)."""
    return Path(os.environ.get(RESULTS_ENV) or default)


def load_runs(preset: str, folder: str | os.PathLike | None = None) -> list[dict]:
    """Every run of ``preset`` in ``folder`` (default :func:`results_dir`), ordered by variant, then seed."""
    folder = Path(folder) if folder is not None else results_dir()
    paths = sorted((folder / preset).glob("*_seed*.json"))
    if not paths:
        raise FileNotFoundError(
            f"no results of preset {preset!r} in {str(folder / preset)!r}: run "
            f"`python -m ncutils run {preset} --out {folder}` first"
        )
    runs = [json.loads(p.read_text()) for p in paths]
    order = {v["label"]: i for i, v in enumerate(runs[0]["preset_config"]["variants"])}
    return sorted(runs, key=lambda r: (order.get(r["variant"], len(order)), r["seed"]))


def by_variant(runs: list[dict]) -> dict[str, list[dict]]:
    """Group runs by variant label (in preset order)."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(run["variant"], []).append(run)
    return groups


def history_of(run: dict) -> History:
    """A run's metric history as a :class:`~ncutils.History` (``.metric(name, layer)`` etc.)."""
    return History(**run["history"])


def metric_curves(runs: list[dict], name: str, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, seeds × recorded-steps array) of one metric at one layer over several runs.

    Values are returned as stored, never averaged: NC2 is ``inf`` at a step where the class
    means have rank below K (``means_rank`` says so), NaN where a metric does not apply.
    """
    histories = [history_of(r) for r in runs]
    steps = np.array(histories[0].steps)
    if any(h.steps != histories[0].steps for h in histories):
        raise ValueError("the runs recorded different steps; compare runs of one preset and variant")
    return steps, np.stack([h.metric(name, layer) for h in histories])


def final_metric(runs: list[dict], name: str, layer: int) -> np.ndarray:
    """The last recorded value of one metric at one layer, one entry per run (``inf`` kept as is)."""
    return np.array([history_of(r).metric(name, layer)[-1] for r in runs])


def seed_band(values, log: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, low, high) over seeds (the rows of ``values``), column by column.

    ``log``: the geometric mean and a multiplicative ±1 standard-deviation band (the mean
    and standard deviation of log10 of the values); else the mean ± 1 standard deviation.
    An infinite value is not averaged away: where any seed is ``+inf`` (NC2 of class means
    of rank < K) the centre is ``inf`` and the band is NaN, so nothing finite is made up.
    """
    values = np.asarray(values, dtype=float)
    infinite = np.isposinf(values).any(axis=0)
    finite = np.where(infinite, 1.0, values)  # placeholders, overwritten below: no warning, no silent mean
    if log:
        logs = np.log10(finite)
        mean, std = logs.mean(0), logs.std(0)
        centre, low, high = 10**mean, 10 ** (mean - std), 10 ** (mean + std)
    else:
        centre, std = finite.mean(0), finite.std(0)
        low, high = centre - std, centre + std
    centre = np.where(infinite, np.inf, centre)
    low, high = np.where(infinite, np.nan, low), np.where(infinite, np.nan, high)
    return centre, low, high


def seed_mean_std(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds (the rows of ``values``), for tables.

    The rule of :func:`seed_band`: where any seed is ``+inf`` (NC2 of class means of rank
    < K) the mean is ``inf`` and the standard deviation NaN, never a finite average.
    """
    centre, _, high = seed_band(values, log=False)
    return centre, high - centre


def plot_band(ax, x, values, label=None, color=None, log=True, **kwargs):
    """Mean over seeds (rows of ``values``) with a ±1 standard-deviation band (see :func:`seed_band`).

    On a log axis the mean and band are taken over log10 of the values (a geometric
    mean and a multiplicative band), so the band never dips below zero.

    Where any seed is infinite (NC2 of rank-deficient class means) the mean is infinite and
    cannot be drawn: the line has a gap there, and a triangle on the top edge of the axes
    marks each such step, so the gap is never silent. Returns the line.
    """
    x = np.asarray(x)
    centre, low, high = seed_band(values, log)
    if log:
        ax.set_yscale("log")
    (line,) = ax.plot(x, np.where(np.isinf(centre), np.nan, centre), label=label, color=color, **kwargs)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    infinite = np.isposinf(centre)
    if infinite.any():
        ax.plot(
            x[infinite],
            np.ones(infinite.sum()),
            linestyle="none",
            marker="^",
            color=line.get_color(),
            transform=ax.get_xaxis_transform(),
            clip_on=False,
        )
    return line


def command_line(argv: Sequence[str]) -> str:
    """The command as a reader would type it: ``python -m ncutils …``."""
    return " ".join(["python", "-m", "ncutils", *map(shlex.quote, argv)])
