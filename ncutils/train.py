"""Gradient descent on MSE + weight decay with a history of every metric: the one training loop.

``train(model, data, config)`` runs full-batch GD (``batch_size=None``, ``momentum=0``:
the theorems' setting) or SGD, and returns a :class:`TrainState` (step, momentum,
history). Hand it back, ``train(model, data, config, state)``, and the run goes on
from that step to ``config.steps``: a run stopped anywhere and continued ends with the
same numbers as one that never stopped. Given a list of models, ``train`` trains them
all and returns a list of states, stacking them into one batched network whenever
they allow it (see :mod:`ncutils.steps`). The model keeps its dtype: a float64 model
trains in float64.
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields

import numpy as np
import torch
from tqdm.auto import tqdm

from .history import TrainingDiverged, TrainingInterrupted, TrainState
from .models import data_for
from .report import collapse_report
from .schedules import Schedule, as_schedule
from .steps import LOSSES, PlainStep, StackedStep, can_stack, objective
from .utils import pick_device, progress_enabled


def _number(value):
    """NumPy scalars (np.float32, np.int64, ...) taken as the Python numbers they hold."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return value
    return int(value) if isinstance(value, numbers.Integral) else float(value)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one run: η = ``lr`` (a number or a schedule of the step, see
    :mod:`ncutils.schedules`), λ = ``weight_decay``.

    ``loss``: the data term, ``"mse"`` (the paper's, the default) or ``"ce"`` (mean cross-entropy),
    with the same weight decay (λ/2)‖θ‖² either way.

    Give ``steps`` (parameter updates of the whole run) or ``epochs`` (passes over the data),
    not both. ``batch_size=None`` is full-batch GD. ``seed`` draws the order of the minibatches
    (the weights' initialisation is the model's own ``seed``). ``record``: record the loss and
    every layer's metrics every ``record`` steps (0: only at the start and the end), or at the
    steps of a list (plus the start and the end).
    """

    lr: float | Schedule = 0.01
    weight_decay: float = 1e-3
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    momentum: float = 0.0
    loss: str = "mse"  # the data term: "mse" (½‖f(X) − Y‖²_F / N) or "ce" (mean cross-entropy), see ncutils.steps
    seed: int = 0
    device: str = "auto"
    record: int | tuple[int, ...] = 100
    progress: bool | None = None  # None: on, unless the CI variable is set

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, _number(getattr(self, f.name)))
        if not isinstance(self.lr, Schedule):
            if not (isinstance(self.lr, float | int) and not isinstance(self.lr, bool)):
                raise ValueError(f"lr must be a positive finite number or a schedule, got {self.lr!r}")
            as_schedule(self.lr)  # checks the number
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, TypeError):
                raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}") from None
        decay = self.weight_decay
        if not (isinstance(decay, int | float) and not isinstance(decay, bool) and math.isfinite(decay) and decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {decay!r}")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError(f"give exactly one of steps and epochs, got steps={self.steps!r}, epochs={self.epochs!r}")
        for name in ("steps", "epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}, got {self.loss!r}")
        if not (isinstance(self.momentum, int | float) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        object.__setattr__(self, "record", _record_steps(self.record))

    @property
    def schedule(self) -> Schedule:
        """η as a function of the step."""
        return as_schedule(self.lr)

    def num_steps(self, num_samples: int) -> int:
        """Parameter updates of the whole run on a data set of ``num_samples``."""
        if self.steps is not None:
            return self.steps
        batch = self.batch_size or num_samples
        return self.epochs * math.ceil(num_samples / batch)

    def records_at(self, step: int) -> bool:
        """Whether the run records at ``step`` (besides its start and end)."""
        if isinstance(self.record, int):
            return self.record > 0 and step % self.record == 0
        return step in self.record

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["lr"] = self.lr.to_dict() if isinstance(self.lr, Schedule) else self.lr
        d["record"] = self.record if isinstance(self.record, int) else list(self.record)
        return d


def _record_steps(record):
    if isinstance(record, int) and not isinstance(record, bool):
        if record < 0:
            raise ValueError(f"record must be an int >= 0 or a list of steps, got {record!r}")
        return record
    if isinstance(record, Sequence | np.ndarray) and not isinstance(record, str):
        steps = [_number(s) for s in record]
        if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in steps):
            raise ValueError(f"record must be an int >= 0 or a list of steps >= 0, got {record!r}")
        return tuple(sorted(set(steps)))
    raise ValueError(f"record must be an int >= 0 or a list of steps, got {record!r}")


@contextmanager
def _stop_requests():
    """While training, SIGINT (Ctrl-C) and SIGTERM only ask the loop to stop at the end of the current
    step, so that the weights and the state it hands back belong to one step. A second Ctrl-C stops at once."""
    request = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def ask(signum, frame):
        if request["signal"] is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request["signal"] = signal.Signals(signum).name

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    previous = {s: h for s, h in previous.items() if h is not signal.SIG_IGN}  # an ignored signal stays ignored
    for s in previous:
        signal.signal(s, ask)
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def _check_states(states, models):
    if len(states) != len(models):
        raise ValueError(f"need one state per model, got {len(models)} models and {len(states)} states")
    for i, state in enumerate(states):
        if not isinstance(state, TrainState):
            raise ValueError(f"state must be a TrainState returned by train, got {type(state).__name__} at {i}")


def train(models, data, configs: TrainConfig | Sequence[TrainConfig], states=None, *, on_record: Callable = None):
    """Train ``models`` (one network, or a list) on ``data``; return the state (or a list of states).

    ``configs``: one :class:`TrainConfig` for all, or one per model. ``states``: those returned by an
    earlier call, to continue those runs up to ``config.steps``. ``on_record(model, state)`` is called
    after every record, with the model holding that step's weights. Ctrl-C or SIGTERM stops at the end
    of a step with :class:`TrainingInterrupted` (holding the states); a NaN or inf loss raises
    :class:`TrainingDiverged` naming the model and the step.
    """
    single = not isinstance(models, Sequence)
    models = [models] if single else list(models)
    if not models:
        raise ValueError("models must not be empty")
    configs = [configs] * len(models) if isinstance(configs, TrainConfig) else list(configs)
    if len(configs) != len(models) or not all(isinstance(c, TrainConfig) for c in configs):
        raise ValueError(f"need one TrainConfig, or one per model ({len(models)}), got {configs!r}")
    states = [TrainState() for _ in models] if states is None else [states] if single else list(states)
    _check_states(states, models)
    devices = {c.device for c in configs}
    if len(devices) > 1:
        raise ValueError(f"every config must name the same device, got {sorted(devices)}")
    device = pick_device(configs[0].device)
    for model in models:
        model.to(device)
    data = data_for(models[0], data)
    X, Y = data.X, data.one_hot()
    if len({s.step for s in states}) == 1 and can_stack(models, configs):
        groups = [(StackedStep(models, configs, X, Y), list(range(len(models))))]
    else:
        groups = [(None, [b]) for b in range(len(models))]
    with _stop_requests() as request:
        for stepper, members in groups:
            if stepper is None:
                (b,) = members
                stepper = PlainStep(models[b], configs[b], states[b].momentum, X, Y)
            _loop(
                stepper,
                [configs[b] for b in members],
                [states[b] for b in members],
                data,
                members,
                request,
                on_record,
                all_states=states,
            )
    return states[0] if single else states


def _loop(stepper, configs, states, data, members, request, on_record, all_states):
    """Train one group (one model, or a stack) from its states' step to the end of the run."""
    num_steps = configs[0].num_steps(data.num_samples)
    start = states[0].step
    if start > num_steps:
        raise ValueError(f"the state is at step {start}, past the end of this run ({num_steps} steps)")
    schedules = [c.schedule for c in configs]
    for state, config, model in zip(states, configs, stepper.models):
        state.history.config = config.to_dict()
        state.history.model = {
            "widths": list(model.widths),
            "L1": model.L1,
            "L2": model.L2,
            "activation": model.activation,
        }

    def diverged(i, value, lr):
        state, config = states[i], configs[i]
        who = f"model {members[i]} " if len(all_states) > 1 else ""
        return TrainingDiverged(
            f"{who}(lr={lr:g}, weight_decay={config.weight_decay:g}): the loss became {value} at step "
            f"{state.step}; try a smaller learning rate",
            state,
            members[i],
        )

    def settle():
        """Weights back into the models and momentum into the states: both now belong to one step."""
        stepper.sync()
        for i, state in enumerate(states):
            state.momentum = stepper.momentum(i)

    def record():
        settle()
        for i, (state, config, model) in enumerate(zip(states, configs, stepper.models)):
            with torch.no_grad():
                loss, fit = objective(model, data.X, data.one_hot(), config.weight_decay, config.loss)
            if not torch.isfinite(loss):
                raise diverged(i, float(loss), schedules[i](max(state.step - 1, 0)))
            report = collapse_report(model, data)
            state.history.steps.append(state.step)
            state.history.loss.append(float(loss))
            state.history.data_loss.append(float(fit))
            state.history.reports.append(report)
            if on_record is not None:
                on_record(model, state)
        watched = -2 if len(report["nc1"]) > 1 else -1  # the penultimate layer, where there is one
        bar.set_postfix(loss=f"{float(loss):.3g}", nc1=f"{report['nc1'][watched]:.3g}", refresh=False)

    bar = tqdm(total=num_steps, initial=start, disable=not progress_enabled(configs[0].progress), desc="train")
    with bar:
        if any(not s.history.steps for s in states):  # a continued run has recorded its start already
            record()
        for step in range(start, num_steps):
            lrs = [schedule(step) for schedule in schedules]
            fits, grads = stepper.gradients(step)
            if not torch.isfinite(fits).all():
                stepper.sync()
                i = int((~torch.isfinite(fits)).nonzero()[0])
                raise diverged(i, fits[i].item(), lrs[i])
            stepper.update(grads, lrs)
            for state in states:
                state.step = step + 1
            bar.update(1)
            if step + 1 == num_steps or configs[0].records_at(step + 1):
                record()
            if request["signal"] is not None:
                settle()
                raise TrainingInterrupted(request["signal"], all_states)
    settle()
