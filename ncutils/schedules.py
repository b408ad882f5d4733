"""The learning rate as a function of the step, and the steps at which a run records its metrics.

A schedule is a small frozen object: call it with a step k (0-based, counted over the
whole run) to get η_k. Schedules compose, and each one writes itself as a plain dict,
so a run's JSON says exactly which learning rate it used at every step::

    lr = nc.constant(0.1).warm_up(200).drop(at=3200, factor=0.1)
    lr(0), lr(199), lr(200), lr(3200)   # 0.01, 0.0955, 0.1, 0.01
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np


def _positive(value, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _step(value, name: str, minimum: int = 0) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class Schedule:
    """Base class: ``schedule(step)`` is the learning rate of that step; ``.drop`` and ``.warm_up`` compose."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def drop(self, at: int, factor: float = 0.1) -> Drop:
        """This schedule, multiplied by ``factor`` from step ``at`` on."""
        return Drop(self, at, factor)

    def warm_up(self, steps: int, start: float = 0.1) -> WarmUp:
        """This schedule, scaled by a factor rising linearly from ``start`` (step 0) to 1 (step ``steps``)."""
        return WarmUp(self, steps, start)

    def to_dict(self) -> dict:
        """``{"kind": ..., field: value, ...}``, nested schedules as dicts: what a run's JSON stores."""
        d = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            d[f.name] = (
                value.to_dict() if isinstance(value, Schedule) else list(value) if isinstance(value, tuple) else value
            )
        return d


@dataclass(frozen=True)
class Constant(Schedule):
    """η_k = ``lr`` at every step."""

    kind = "constant"

    lr: float

    def __post_init__(self):
        object.__setattr__(self, "lr", _positive(self.lr, "lr"))

    def __call__(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True)
class Drop(Schedule):
    """``base`` until step ``at``, then ``base`` × ``factor`` (the usual step decay)."""

    kind = "drop"

    base: Schedule
    at: int
    factor: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "base", as_schedule(self.base))
        object.__setattr__(self, "at", _step(self.at, "at"))
        object.__setattr__(self, "factor", _positive(self.factor, "factor"))

    def __call__(self, step: int) -> float:
        lr = self.base(step)
        return lr * self.factor if step >= self.at else lr


@dataclass(frozen=True)
class WarmUp(Schedule):
    """Linear warm-up: ``base`` × (start + (1 − start)·k/steps) for k < ``steps``, then ``base``."""

    kind = "warm_up"

    base: Schedule
    steps: int
    start: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "base", as_schedule(self.base))
        object.__setattr__(self, "steps", _step(self.steps, "steps", minimum=1))
        start = _positive(self.start, "start")
        if start > 1:
            raise ValueError(f"start must lie in (0, 1], got {self.start!r}")
        object.__setattr__(self, "start", start)

    def __call__(self, step: int) -> float:
        lr = self.base(step)
        if step >= self.steps:
            return lr
        return lr * (self.start + (1 - self.start) * step / self.steps)


@dataclass(frozen=True)
class Piecewise(Schedule):
    """``values[0]`` before ``boundaries[0]``, ``values[i]`` from ``boundaries[i-1]`` on (stairs of any shape)."""

    kind = "piecewise"

    boundaries: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self):
        boundaries = tuple(_step(b, "boundaries[i]", minimum=1) for b in self.boundaries)
        values = tuple(_positive(v, "values[i]") for v in self.values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"need one value more than boundaries, got {len(values)} values, {len(boundaries)} boundaries"
            )
        if list(boundaries) != sorted(set(boundaries)):
            raise ValueError(f"boundaries must increase strictly, got {list(boundaries)}")
        object.__setattr__(self, "boundaries", boundaries)
        object.__setattr__(self, "values", values)

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step < boundary:
                return value
        return self.values[-1]


def constant(lr: float) -> Constant:
    return Constant(lr)


def piecewise(boundaries: Sequence[int], values: Sequence[float]) -> Piecewise:
    return Piecewise(tuple(boundaries), tuple(values))


def as_schedule(lr) -> Schedule:
    """A schedule as it is, a number as :class:`Constant`."""
    return lr if isinstance(lr, Schedule) else Constant(lr)


def schedule_from_dict(d) -> Schedule:
    """The schedule a run's JSON describes (the inverse of ``to_dict``; a plain number is constant)."""
    if isinstance(d, numbers.Real):
        return Constant(d)
    kinds = {kind.kind: kind for kind in (Constant, Drop, WarmUp, Piecewise)}
    if not isinstance(d, dict) or d.get("kind") not in kinds:
        raise ValueError(f"not a learning-rate schedule: {d!r}")
    arguments = {k: v for k, v in d.items() if k != "kind"}
    if "base" in arguments:
        arguments["base"] = schedule_from_dict(arguments["base"])
    return kinds[d["kind"]](**arguments)


def geometric_steps(last: int, count: int = 10, first: int = 10) -> tuple[int, ...]:
    """Step 0 and ``count`` steps spaced geometrically from ``first`` to ``last`` (rounded, duplicates
    merged): where to record a run whose interesting changes happen early."""
    last, count, first = _step(last, "last", 1), _step(count, "count", 1), _step(first, "first", 1)
    if first > last:
        raise ValueError(f"first must be <= last, got first={first}, last={last}")
    return (0, *sorted({int(round(s)) for s in np.geomspace(first, last, count)}))
