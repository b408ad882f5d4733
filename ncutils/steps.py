"""One step of gradient descent on a loss + weight decay, for one network or for a stack of them.

Objective (one-hot labels Y, N samples, all parameters θ), with the mean squared error (the
default, ``loss="mse"``) or the mean cross-entropy (``loss="ce"``) as the data term:

    L_λ(θ) = ½ ‖f(X) − Y‖²_F / N  +  (λ/2) ‖θ‖²                      (mse)
    L_λ(θ) = (1/N) Σ_i −log softmax(f(x_i))_{y_i}  +  (λ/2) ‖θ‖²     (ce)

The data term is :func:`data_term` and the update, weight decay included, is
:func:`sgd_update_`: each is written once here. Two step functions use them:

* :class:`PlainStep`: any network (biases, ResNets), minibatches, momentum;
* :class:`StackedStep`: B bias-free MLPs of one architecture trained at once as one
  stacked network (W_ℓ becomes B × n_ℓ × n_{ℓ−1}) by full-batch GD: a sweep over λ, η
  or seeds in one batched forward and backward pass per step, each member still on
  its own objective with its own η_k and λ.
"""

from __future__ import annotations

import math

import torch

from .models import NCNet

LOSSES = ("mse", "ce")


def data_term(outputs: torch.Tensor, Y: torch.Tensor, loss: str = "mse") -> torch.Tensor:
    """The mean loss over the N samples (see the module's docstring): ½‖f(X) − Y‖²_F / N, or the
    mean cross-entropy (1/N) Σ_i [logsumexp(f(x_i)) − f(x_i)_{y_i}] with one-hot rows Y; one value
    per member when ``outputs`` is stacked (B × N × K)."""
    if loss == "mse":
        return 0.5 * ((outputs - Y) ** 2).sum(dim=(-2, -1)) / Y.shape[-2]
    if loss == "ce":
        return (torch.logsumexp(outputs, dim=-1) - (outputs * Y).sum(dim=-1)).sum(dim=-1) / Y.shape[-2]
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")


def objective(
    model, X: torch.Tensor, Y: torch.Tensor, weight_decay: float, loss: str = "mse"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_λ, data term): the data term of :func:`data_term` plus (λ/2)‖θ‖², and the data term."""
    fit = data_term(model(X), Y, loss)
    squared_norm = sum((p * p).sum() for p in model.parameters())
    return fit + 0.5 * weight_decay * squared_norm, fit


def sgd_update_(params, grads, lr, weight_decay, momentum: float = 0.0, buffers=None) -> None:
    """θ ← θ − η d with d = ∇(data term) + λθ, through a momentum buffer b ← μ b + d when μ > 0
    (PyTorch's SGD rule). ``lr``, ``weight_decay``: numbers for one network, B × 1 × 1 tensors
    for a stack (one η, λ per member). ``buffers`` (a list, one entry per parameter) is updated in place.
    """
    stacked = torch.is_tensor(lr)
    with torch.no_grad():
        for i, (p, g) in enumerate(zip(params, grads)):
            d = g + weight_decay * p if stacked else g.add(p, alpha=weight_decay)
            if momentum:
                if buffers[i] is None:
                    buffers[i] = d.clone()
                else:
                    buffers[i].mul_(momentum).add_(d)
                d = buffers[i]
            if stacked:
                p.sub_(lr * d)
            else:
                p.add_(d, alpha=-lr)


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


class PlainStep:
    """One network, any architecture: its own forward and autograd, minibatches, momentum."""

    def __init__(self, model, config, momentum_buffers, X, Y):
        self.models, self.config, self.X, self.Y = [model], config, X, Y
        self.params = list(model.parameters())
        buffers = momentum_buffers or [None] * len(self.params)
        self.buffers = [None if b is None else b.to(p.device, p.dtype).clone() for b, p in zip(buffers, self.params)]

    def gradients(self, step: int):
        """(data term of the batch, as a 1-element tensor; gradients) at the current weights."""
        batch = minibatch(step, self.X.shape[0], self.config.batch_size, self.config.seed)
        X, Y = (self.X, self.Y) if batch is None else (self.X[batch], self.Y[batch])
        fit = data_term(self.models[0](X), Y, self.config.loss)
        return fit.detach().view(1), torch.autograd.grad(fit, self.params)

    def update(self, grads, lrs: list[float]) -> None:
        config = self.config
        sgd_update_(self.params, grads, lrs[0], config.weight_decay, config.momentum, self.buffers)

    def sync(self) -> None:
        """The models already hold the weights."""

    def momentum(self, member: int):
        if not self.config.momentum or any(b is None for b in self.buffers):
            return None
        return [b.detach().clone() for b in self.buffers]


class StackedStep:
    """B bias-free MLPs of one architecture (full-batch GD, no momentum) as one stacked network."""

    def __init__(self, models, configs, X, Y):
        self.models, self.X, self.Y = models, X, Y
        template = models[0]
        self.L1, self.sigma = template.L1, template.sigma
        self.weights = [
            torch.stack([m.weights()[i].detach() for m in models]).requires_grad_(True)
            for i in range(template.num_layers)
        ]
        dtype, device = X.dtype, X.device
        self.decays = torch.tensor([c.weight_decay for c in configs], dtype=dtype, device=device).view(-1, 1, 1)
        self.loss = configs[0].loss  # can_stack: the same for every member

    def gradients(self, step: int):
        h = self.X.expand(len(self.models), *self.X.shape)
        for i, W in enumerate(self.weights):
            h = h @ W.transpose(1, 2)
            if i < self.L1:
                h = self.sigma(h)
        fits = data_term(h, self.Y, self.loss)
        return fits.detach(), torch.autograd.grad(fits.sum(), self.weights)  # member b's gradient: member b's term

    def update(self, grads, lrs: list[float]) -> None:
        rates = torch.tensor(lrs, dtype=self.X.dtype, device=self.X.device).view(-1, 1, 1)
        sgd_update_(self.weights, grads, rates, self.decays)

    def sync(self) -> None:
        """Copy each member's stacked weights back into its model (before anything reads the models)."""
        with torch.no_grad():
            for b, model in enumerate(self.models):
                for W_model, W in zip(model.weights(), self.weights):
                    W_model.copy_(W[b])

    def momentum(self, member: int):
        return None


def can_stack(models, configs) -> bool:
    """Whether ``StackedStep`` applies: two or more bias-free MLPs of one architecture and dtype, full batch,
    no momentum, the same steps, records and loss (η, λ and the seed may differ per member)."""
    first = models[0]
    return (
        len(models) > 1  # one network: the plain step is faster (2-D matrix products, no stacking)
        and all(type(m) is NCNet and not any(layer.bias is not None for layer in m.layers) for m in models)
        and all(
            (m.widths, m.L1, m.activation, m.weights()[0].dtype)
            == (first.widths, first.L1, first.activation, first.weights()[0].dtype)
            for m in models
        )
        and all(c.batch_size is None and c.momentum == 0 for c in configs)
        and len({(c.steps, c.epochs, c.record, c.loss) for c in configs}) == 1
    )
