"""Does the training loop cost anything? ``nc.train`` against a bare PyTorch loop on the same network.

    python benchmarks/loop.py [--steps 1000] [--threads 2] [--repeats 3]

The bare loop is what one would write by hand: forward, ½‖f(X) − Y‖²/N, backward,
``torch.optim.SGD`` with weight decay. ``nc.train`` runs with recording off (``record=0``):
on one network it takes its plain step function; on a list of two networks of one
architecture, the stacked one (shown per network, for information: that is a sweep's gain,
measured against sequential runs by ``benchmarks/sweep.py``). Each is timed for ``steps``
updates and for 1, and the per-step time is the difference over ``steps − 1``, so that fixed
costs (the records at the start and the end, building the optimizer) cancel; the three are
interleaved ``repeats`` times and the least time of each is kept.
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


def ours(data, models, steps):
    config = nc.TrainConfig(lr=LR, weight_decay=WEIGHT_DECAY, steps=steps, record=0, progress=False)
    start = time.perf_counter()
    nc.train(models, data, config)
    return time.perf_counter() - start


def per_step(run, make, steps):
    """Seconds per step: (time of ``steps`` steps − time of 1 step) / (steps − 1), so that fixed costs
    (the records at the start and the end, building the optimizer) cancel."""
    return (run(make(), steps) - run(make(), 1)) / (steps - 1)


def compare(data, make, steps, repeats):
    """Per-step seconds of the bare loop and of ``nc.train`` (one network: the plain step; a stack of
    two networks, per network: the stacked step), the least of ``repeats`` rounds that interleave them."""
    contenders = {
        "bare PyTorch": lambda model, s: bare(data, model, s),
        "nc.train": lambda model, s: ours(data, model, s),
        "nc.train, 2 stacked (per net)": lambda model, s: ours(data, [model, make()], s) / 2,
    }
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(repeats):
        for label, run in contenders.items():
            best[label] = min(best[label], per_step(run, make, steps))
    return best


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
            print(f"  {label:<30} {1e3 * seconds:7.3f} ms/step   ratio to bare {ratio:5.3f}")


if __name__ == "__main__":
    main()
