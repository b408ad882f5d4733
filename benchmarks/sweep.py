"""Is a batched sweep faster than a loop of runs? Sequential / stacked time for 16 members.

    python benchmarks/sweep.py [--members 16] [--steps 500] [--threads 2]

Each member is a small smooth-leaky network (widths 64, 32 then 16, K) on a
Gaussian mixture, trained by full-batch GD with its own λ and η; metrics are
recorded only at the start and the end, as in a sweep's inner loop. The final
weights of both ways are compared before any time is printed.
"""

from __future__ import annotations

import argparse
import time

import torch

import ncutils as nc


def setup(members, steps):
    data = nc.gaussian_mixture(4, 10, 20, seed=0)
    grid = [(lr, wd) for lr in (0.02, 0.05, 0.1, 0.2) for wd in (1e-4, 1e-3, 1e-2, 3e-2)]
    configs = [
        nc.TrainConfig(
            lr=grid[i % len(grid)][0], weight_decay=grid[i % len(grid)][1], steps=steps, record=0, progress=False
        )
        for i in range(members)
    ]
    models = [nc.NCNet(20, [64, 32], [16], 4, activation="smooth_leaky", seed=i) for i in range(members)]
    return data, configs, models


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data, configs, sequential = setup(args.members, args.steps)
    start = time.perf_counter()
    for model, config in zip(sequential, configs):
        nc.train(model, data, config)  # one call per member
    sequential_seconds = time.perf_counter() - start

    data, configs, batched = setup(args.members, args.steps)
    start = time.perf_counter()
    nc.train(batched, data, configs)  # one call: the members are stacked into one batched network
    batched_seconds = time.perf_counter() - start

    worst = max(
        float((a - b).detach().abs().max())
        for m, n in zip(sequential, batched)
        for a, b in zip(m.weights(), n.weights())
    )
    if worst > 1e-4:  # float32: summation order differs between the two
        raise SystemExit(f"the two ways disagree: largest weight difference {worst:.1e}")
    print(
        f"{args.members} members x {args.steps} steps: sequential {sequential_seconds:.2f} s, "
        f"stacked {batched_seconds:.2f} s, ratio sequential/stacked = {sequential_seconds / batched_seconds:.1f}x "
        f"(largest weight difference {worst:.1e})"
    )


if __name__ == "__main__":
    main()
