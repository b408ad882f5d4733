"""What a training run owns: its history of metrics and its state (step, momentum), kept off the model.

``train`` returns a :class:`TrainState` and accepts one back, so a run can be stopped,
saved with its weights, and continued to the same numbers as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from .files import read_json, write_json_atomic


@dataclass
class History:
    """What a run recorded: at each recorded step, the loss and every layer's metrics."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # the regularised objective L_λ
    data_loss: list[float] = field(default_factory=list)  # ½‖f(X) − Y‖²_F / N
    reports: list[dict] = field(default_factory=list)  # collapse_report at each step
    config: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)

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
        if not self.reports:
            raise ValueError("this history has no recorded steps")
        return self.reports[-1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON atomically (a temporary file, then a rename), so an interrupted save loses nothing."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        return cls.from_dict(read_json(path, what="history"))


@dataclass
class TrainState:
    """Where one run stands: ``step`` (updates made), the optimizer's ``momentum`` buffers (one per
    parameter, or None), and its ``history`` (whose ``config`` is the run's configuration)."""

    step: int = 0
    history: History = field(default_factory=History)
    momentum: list[torch.Tensor] | None = None

    @property
    def config(self) -> dict:
        return self.history.config

    def to_dict(self) -> dict:
        """Tensors and plain values only (what ``torch.load(weights_only=True)`` reads back)."""
        momentum = None if self.momentum is None else [b.detach().cpu() for b in self.momentum]
        return {"step": self.step, "history": self.history.to_dict(), "momentum": momentum}

    @classmethod
    def from_dict(cls, d: dict) -> TrainState:
        return cls(step=int(d["step"]), history=History.from_dict(d["history"]), momentum=d.get("momentum"))


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf. ``state`` is the diverged run's state (its history keeps what was
    recorded until then); ``member`` is its index when several models were trained together."""

    def __init__(self, message: str, state: TrainState, member: int = 0):
        super().__init__(message)
        self.state, self.member = state, member

    @property
    def history(self) -> History:
        return self.state.history

    @property
    def step(self) -> int:
        return self.state.step


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped training at the end of a step. ``states`` hold every run's
    state at that step (the models hold the matching weights): pass them back to ``train`` to go on."""

    def __init__(self, signal_name: str, states: list[TrainState]):
        steps = [s.step for s in states]
        where = f"step {steps[0]}" if len(set(steps)) == 1 else f"steps {', '.join(map(str, steps))} (one per run)"
        super().__init__(f"training stopped by {signal_name} at {where}")
        self.signal_name, self.states = signal_name, states
        self.checkpoint = None  # the file the runner saved the states to, when it did
