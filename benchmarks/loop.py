"""Does the training loop cost anything? ``nc.train`` against a bare PyTorch loop on the same network.

    python benchmarks/loop.py [--steps 1000] [--threads 2] [--repeats 3]

The bare loop is what one would write by hand: forward, ½‖f(X) − Y‖²/N, backward,
``torch.optim.SGD`` with weight decay. ``nc.train`` runs with recording off (``record=0``).
Both are timed for ``steps`` and ``2·steps`` updates and the per-step time is taken from
the difference, so that fixed costs (the records at the start and the end, building the
optimizer) cancel; the best of ``repeats`` is kept. ``nc.train`` is timed on both of its
step functions: the stacked one it picks for a bias-free MLP, and the plain one (used for
any other network), forced here with ``batch_size=N`` (the same full-batch GD).
Printed: milliseconds per step and the ratio loop / bare (1.05 = 5% overhead).
"""

from __future__ import annotations

import argparse
import functools
import time

import torch

import ncutils as nc

NETWORKS = {
    # name: (data, NCNet arguments, dtype) — a theory notebook's network and the laptop layer-wise MLP
    "theory (N=40, float64)": (
        lambda: nc.gaussian_mixture(4, 10, 20, seed=0, dtype=torch.float64),
        dict(in_dim=20, nonlinear_widths=[128, 64], linear_widths=[32, 32], num_classes=4),
        torch.float64,
    ),
    "mlp_layerwise laptop (N=500, float32)": (
        lambda: nc.mnist_subset(per_class=50),
        dict(in_dim=784, nonlinear_widths=[128] * 5, linear_widths=[64] * 3, num_classes=10),
        torch.float32,
    ),
}
LR, WEIGHT_DECAY = 0.05, 1e-3


def bare(data, model, steps):
    X, Y = data.X.to(model.weights()[0].dtype), data.one_hot().to(model.weights()[0].dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = 0.5 * ((model(X) - Y) ** 2).sum() / X.shape[0]
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def ours(data, model, steps, plain):
    config = nc.TrainConfig(
        lr=LR,
        weight_decay=WEIGHT_DECAY,
        steps=steps,
        record=0,
        progress=False,
        batch_size=data.num_samples if plain else None,
    )
    start = time.perf_counter()
    nc.train(model, data, config)
    return time.perf_counter() - start


def per_step(run, make, steps, repeats):
    """Seconds per step from the difference of a 2·steps and a steps run (best of ``repeats``,
    after one untimed warm-up run)."""
    run(make(), steps)
    best = float("inf")
    for _ in range(repeats):
        short, long = run(make(), steps), run(make(), 2 * steps)
        best = min(best, (long - short) / steps)
    return best


def compare(data, make, steps, repeats):
    """Per-step seconds of the bare loop and of both of ``nc.train``'s step functions."""
    return {
        "bare PyTorch": per_step(lambda m, s: bare(data, m, s), make, steps, repeats),
        "nc.train (stacked step)": per_step(lambda m, s: ours(data, m, s, False), make, steps, repeats),
        "nc.train (plain step)": per_step(lambda m, s: ours(data, m, s, True), make, steps, repeats),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name, (load, arguments, dtype) in NETWORKS.items():
        make = functools.partial(nc.NCNet, **arguments, activation="relu", seed=0, dtype=dtype)
        times = compare(load(), make, args.steps, args.repeats)
        print(f"{name}, {args.threads} threads:")
        for label, seconds in times.items():
            ratio = seconds / times["bare PyTorch"]
            print(f"  {label:<24} {1e3 * seconds:7.3f} ms/step   ratio to bare {ratio:5.3f}")


if __name__ == "__main__":
    main()
