"""Train many copies of one architecture at once: a sweep as one batched model.

A sweep over λ, η or seeds trains B networks of identical shape. Instead of a
Python loop of B runs, we stack their weights (W_ℓ becomes B × n_ℓ × n_{ℓ-1}) and
run one batched forward and backward pass per step: every member still does
plain full-batch gradient descent on its own objective
½‖f_b(X) − Y‖²_F/N + (λ_b/2)‖θ_b‖², with its own η_b and λ_b, and ends with the
same weights as a solo ``train`` run (up to floating-point summation order).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from .metrics import collapse_report
from .train import History, TrainConfig, TrainingDiverged, objective
from .utils import pick_device, progress_enabled

# Fields that must be equal across a sweep's configs (the rest may differ per member).
SHARED_FIELDS = ("steps", "epochs", "batch_size", "momentum", "record_every", "device")


def _check_sweep(models, configs):
    if len(models) == 0:
        raise ValueError("models must not be empty")
    if len(models) != len(configs):
        raise ValueError(f"need one config per model, got {len(models)} models and {len(configs)} configs")
    first = models[0]
    for i, model in enumerate(models):
        if model.widths != first.widths or model.L1 != first.L1 or model.activation != first.activation:
            raise ValueError(
                f"models[{i}] differs from models[0] in widths, L1 or activation: a sweep needs one architecture"
            )
        if any(layer.bias is not None for layer in model.layers):
            raise ValueError(f"models[{i}] has biases: train_sweep supports the bias-free network only")
        if model.weights()[0].dtype != first.weights()[0].dtype:
            raise ValueError(f"models[{i}] has another dtype than models[0]")
    for name in SHARED_FIELDS:
        values = {getattr(c, name) for c in configs}
        if len(values) > 1:
            raise ValueError(f"every config of a sweep must have the same {name}, got {sorted(map(str, values))}")
    if configs[0].batch_size is not None or configs[0].momentum != 0:
        raise ValueError("train_sweep runs full-batch gradient descent: use batch_size=None and momentum=0")


def train_sweep(models: Sequence, data, configs: Sequence[TrainConfig], histories=None) -> list[History]:
    """Train every ``models[b]`` with ``configs[b]`` in one batched run; return one history per member.

    The models must share widths, L1, activation and dtype; the configs may differ
    in ``lr``, ``weight_decay``, ``lr_drop_step``, ``lr_drop_factor`` and ``seed``,
    and share everything else. Like ``train``, it continues from each model's
    weights, and each model holds its final weights afterwards.
    """
    models, configs = list(models), list(configs)
    _check_sweep(models, configs)
    device = pick_device(configs[0].device)
    for model in models:
        model.to(device)
    template = models[0]
    dtype = template.weights()[0].dtype
    X, Y = data.X.to(device, dtype), data.one_hot().to(device, dtype)
    histories = list(histories) if histories is not None else [History() for _ in models]
    for history, model, config in zip(histories, models, configs):
        history.config = dataclasses.asdict(config)
        history.model = {"widths": list(model.widths), "L1": model.L1, "L2": model.L2, "activation": model.activation}

    # Stacked weights: stacked[ℓ] is B × n_ℓ × n_{ℓ-1}.
    stacked = [
        torch.stack([m.weights()[i].detach() for m in models]).requires_grad_(True) for i in range(template.num_layers)
    ]
    lrs = torch.tensor([c.lr for c in configs], dtype=dtype, device=device)
    decays = torch.tensor([c.weight_decay for c in configs], dtype=dtype, device=device).view(-1, 1, 1)
    drops = [(c.lr_drop_step, c.lr_drop_factor) for c in configs]
    start_steps = [m.steps_trained for m in models]
    if len(set(start_steps)) > 1:
        raise ValueError(f"all models must have trained the same number of steps, got {start_steps}")

    def forward(weights):
        h = X.expand(len(models), *X.shape)
        for i, W in enumerate(weights):
            h = h @ W.transpose(1, 2)
            if i < template.L1:
                h = template.sigma(h)
        return h

    def write_back():
        with torch.no_grad():
            for b, model in enumerate(models):
                for W_model, W in zip(model.weights(), stacked):
                    W_model.copy_(W[b])

    def record():
        write_back()
        for history, model, config in zip(histories, models, configs):
            with torch.no_grad():
                loss, data_loss = objective(model, X, Y, config.weight_decay)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"member with lr={config.lr:g}, weight_decay={config.weight_decay:g}: the loss "
                    f"became {float(loss)} at step {model.steps_trained}; try a smaller learning rate",
                    history,
                )
            history.steps.append(model.steps_trained)
            history.loss.append(float(loss))
            history.data_loss.append(float(data_loss))
            history.reports.append(collapse_report(model, data))

    num_steps = configs[0].num_steps(X.shape[0])
    record_every = configs[0].record_every
    if not histories[0].steps or histories[0].steps[-1] != template.steps_trained:
        record()
    with tqdm(total=num_steps, disable=not progress_enabled(configs[0].progress), desc="sweep") as bar:
        for step in range(num_steps):
            global_step = start_steps[0] + step
            rates = lrs.clone()
            for b, (drop_step, factor) in enumerate(drops):
                if drop_step is not None and global_step >= drop_step:
                    rates[b] *= factor
            data_terms = 0.5 * ((forward(stacked) - Y) ** 2).sum(dim=(1, 2)) / X.shape[0]
            if not torch.isfinite(data_terms).all():
                write_back()
                bad = int((~torch.isfinite(data_terms)).nonzero()[0])
                raise TrainingDiverged(
                    f"member {bad} (lr={configs[bad].lr:g}): the loss became {data_terms[bad].item()} at step "
                    f"{global_step}; try a smaller learning rate",
                    histories[bad],
                )
            grads = torch.autograd.grad(data_terms.sum(), stacked)  # member b's gradient depends on member b only
            with torch.no_grad():
                for W, G in zip(stacked, grads):
                    W.sub_(rates.view(-1, 1, 1) * (G + decays * W))
            for model in models:
                model.steps_trained += 1
            bar.update(1)
            if step == num_steps - 1 or (record_every and (global_step + 1) % record_every == 0):
                record()
    write_back()
    return histories
