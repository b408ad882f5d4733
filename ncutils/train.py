"""Gradient descent on MSE + weight decay, with a history of every metric.

Objective (one-hot labels Y, N samples, all parameters θ):

    L_λ(θ) = ½ ‖f(X) − Y‖²_F / N  +  (λ/2) ‖θ‖²

Full-batch GD (``batch_size=None``, ``momentum=0``, the theorems' setting) is
θ ← θ − η (∇ data term + λ θ). Training continues from the model's current
weights and keeps its dtype, so a float64 model trains in float64 and two
calls of 500 steps equal one call of 1,000 (minibatches and momentum included).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .metrics import collapse_report
from .utils import pick_device, progress_enabled


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (η = ``lr``, λ = ``weight_decay``).

    Give ``steps`` (parameter updates) or ``epochs`` (passes over the data), not both.
    ``batch_size=None`` is full-batch GD. At global step ``lr_drop_step`` the
    learning rate is multiplied by ``lr_drop_factor``. Metrics of every layer are
    recorded every ``record_every`` steps (0: only at the start and the end).
    """

    lr: float = 0.01
    weight_decay: float = 1e-3
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    momentum: float = 0.0
    lr_drop_step: int | None = None
    lr_drop_factor: float = 0.1
    seed: int = 0
    device: str = "auto"
    record_every: int = 100
    progress: bool | None = None  # None: on, unless the CI variable is set

    def __post_init__(self):
        # NumPy scalars (np.float32, np.int64, ...) are taken as the Python numbers they hold
        for name in ("lr", "weight_decay", "momentum", "lr_drop_factor"):
            value = getattr(self, name)
            if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
                object.__setattr__(self, name, float(value))
        for name in ("steps", "epochs", "batch_size", "lr_drop_step", "record_every", "seed"):
            value = getattr(self, name)
            if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
                object.__setattr__(self, name, int(value))
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, TypeError):
                raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}") from None

        def positive_int(name, value, allow_none=False):
            if value is None and allow_none:
                return
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int{' or None' if allow_none else ''}, got {value!r}")

        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        if not (
            isinstance(self.weight_decay, (int, float)) and math.isfinite(self.weight_decay) and self.weight_decay >= 0
        ):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError(f"give exactly one of steps and epochs, got steps={self.steps!r}, epochs={self.epochs!r}")
        positive_int("steps", self.steps, allow_none=True)
        positive_int("epochs", self.epochs, allow_none=True)
        positive_int("batch_size", self.batch_size, allow_none=True)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if self.lr_drop_step is not None and (not isinstance(self.lr_drop_step, int) or self.lr_drop_step < 0):
            raise ValueError(f"lr_drop_step must be an int >= 0 or None, got {self.lr_drop_step!r}")
        if not 0 < self.lr_drop_factor <= 1:
            raise ValueError(f"lr_drop_factor must lie in (0, 1], got {self.lr_drop_factor!r}")
        if not isinstance(self.record_every, int) or self.record_every < 0:
            raise ValueError(f"record_every must be an int >= 0, got {self.record_every!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")

    def num_steps(self, num_samples: int) -> int:
        """Parameter updates this run makes on a data set of ``num_samples``."""
        if self.steps is not None:
            return self.steps
        batch = self.batch_size or num_samples
        return self.epochs * math.ceil(num_samples / batch)


@dataclass
class History:
    """What a run recorded: at each recorded step, the loss and every layer's metrics."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # the regularised objective L_λ
    data_loss: list[float] = field(default_factory=list)  # ½‖f(X) − Y‖²_F / N
    reports: list[dict] = field(default_factory=list)  # collapse_report at each step
    config: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    interrupted: bool = False

    def metric(self, name: str, layer: int) -> np.ndarray:
        """One metric of layer ℓ = ``layer`` (1-based; negative counts from the end) over the recorded steps.

        Entries that do not apply to that layer (e.g. NC3 away from the penultimate layer) are NaN.
        """
        if not self.reports:
            raise ValueError("this history has no recorded steps")
        if name not in self.reports[0]:
            raise KeyError(f"unknown metric {name!r}; choose from {sorted(self.reports[0])}")
        L = len(self.reports[0]["layer"])
        index = layer - 1 if layer > 0 else L + layer
        if not 0 <= index < L:
            raise ValueError(f"layer must be in 1..{L} (or -{L}..-1), got {layer!r}")
        return np.array([np.nan if r[name][index] is None else r[name][index] for r in self.reports], dtype=float)

    @property
    def final(self) -> dict:
        """The last recorded collapse report (one row per layer)."""
        return self.reports[-1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON atomically (a temporary file, then a rename), so an interrupted save loses nothing."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as f:
            json.dump(self.to_dict(), f)
        os.replace(f.name, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        with open(path) as f:
            return cls(**json.load(f))


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf; ``history`` keeps what was recorded until then."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


def objective(model, X: torch.Tensor, Y: torch.Tensor, weight_decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_λ, data term) = (½‖f(X) − Y‖²_F/N + (λ/2)‖θ‖², ½‖f(X) − Y‖²_F/N)."""
    data_term = 0.5 * ((model(X) - Y) ** 2).sum() / X.shape[0]
    squared_norm = sum((p * p).sum() for p in model.parameters())
    return data_term + 0.5 * weight_decay * squared_norm, data_term


def minibatch(step: int, num_samples: int, batch_size: int | None, seed: int) -> torch.Tensor | None:
    """Indices of the minibatch used at global ``step`` (``None``: the full batch).

    Each epoch is a fresh permutation drawn from (seed, epoch number) alone, so the
    batch at a given step does not depend on how training was split into calls:
    a run resumed from a checkpoint sees the same batches as an uninterrupted one.
    """
    if batch_size is None or batch_size >= num_samples:
        return None
    per_epoch = math.ceil(num_samples / batch_size)
    epoch, position = divmod(step, per_epoch)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(num_samples, generator=generator)
    return order[position * batch_size : (position + 1) * batch_size]


def train(model, data, config: TrainConfig, history: History | None = None) -> History:
    """Train ``model`` on ``data`` with ``config``; return the (extended) history.

    Ctrl-C stops the run cleanly: the history recorded so far is returned with
    ``interrupted=True`` and the model keeps its weights.
    """
    device = pick_device(config.device)
    model.to(device)
    dtype = next(model.parameters()).dtype
    X, Y = data.X.to(device, dtype), data.one_hot().to(device, dtype)
    history = history if history is not None else History()
    history.config = dataclasses.asdict(config)
    history.model = {"widths": list(model.widths), "L1": model.L1, "L2": model.L2, "activation": model.activation}

    params = list(model.parameters())
    optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    buffers = getattr(model, "momentum_buffers", None)  # momentum carried over from the last call
    if config.momentum and buffers is not None:
        for p, buffer in zip(params, buffers):
            optimizer.state[p]["momentum_buffer"] = buffer.to(p.device, p.dtype).clone()
    num_steps = config.num_steps(X.shape[0])

    def diverged(value, lr):
        return TrainingDiverged(
            f"the loss became {value} at step {model.steps_trained} (lr={lr:g}); try a smaller learning rate",
            history,
        )

    def record():
        with torch.no_grad():
            loss, data_loss = objective(model, X, Y, config.weight_decay)
        if not torch.isfinite(loss):
            raise diverged(float(loss), optimizer.param_groups[0]["lr"])
        report = collapse_report(model, data)
        history.steps.append(model.steps_trained)
        history.loss.append(float(loss))
        history.data_loss.append(float(data_loss))
        history.reports.append(report)
        watched = -2 if len(report["nc1"]) > 1 else -1  # the penultimate layer, where there is one
        bar.set_postfix(loss=f"{float(loss):.3g}", nc1=f"{report['nc1'][watched]:.3g}")

    bar = tqdm(total=num_steps, disable=not progress_enabled(config.progress), desc="train")
    try:
        if not history.steps or history.steps[-1] != model.steps_trained:
            record()
        for step in range(num_steps):
            lr = config.lr
            if config.lr_drop_step is not None and model.steps_trained >= config.lr_drop_step:
                lr *= config.lr_drop_factor
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = minibatch(model.steps_trained, X.shape[0], config.batch_size, config.seed)
            Xb, Yb = (X, Y) if batch is None else (X[batch], Y[batch])
            optimizer.zero_grad(set_to_none=True)
            data_term = 0.5 * ((model(Xb) - Yb) ** 2).sum() / Xb.shape[0]
            if not torch.isfinite(data_term):
                raise diverged(data_term.item(), lr)
            data_term.backward()
            optimizer.step()
            model.steps_trained += 1
            bar.update(1)
            last = step == num_steps - 1
            if last or (config.record_every and model.steps_trained % config.record_every == 0):
                record()
    except KeyboardInterrupt:
        history.interrupted = True
        warnings.warn(f"training interrupted at step {model.steps_trained}; returning the history so far", stacklevel=2)
    finally:
        bar.close()
        if config.momentum:
            model.momentum_buffers = [
                optimizer.state[p].get("momentum_buffer", torch.zeros_like(p)).detach() for p in params
            ]
    return history
