"""How fast are the metrics? ncutils.metrics against the literal per-sample formulas.

    python benchmarks/metrics.py [--samples 60000] [--naive-samples 6000] [--dim 512] [--classes 10]

Prints (1) the time of every metric of one layer at MNIST size (N = 60,000,
p = 512, K = 10), and (2) the ratio naive / ncutils on a smaller N where the
naive per-sample loop finishes in reasonable time. Both run on the same data
with 2 threads, and the values are checked to agree before any time is printed.
"""

from __future__ import annotations

import argparse
import time

import torch

import ncutils as nc
from ncutils import naive

METRICS = ["nc1", "nc1_pinv", "nc2", "nc2_etf", "nc3", "nc3_distance", "negativity"]


def features(num_samples, dim, num_classes, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(num_classes).repeat_interleave(num_samples // num_classes)
    means = torch.randn(num_classes, dim, generator=g)
    Z = means[y] + 0.5 * torch.randn(len(y), dim, generator=g)  # float32, as a network's features are
    W = means + 0.1 * torch.randn(num_classes, dim, generator=g)
    return Z, y, W


def fast_metrics(Z, y, W):
    """Each metric of ncutils as a function of no arguments."""
    K = W.shape[0]
    return {
        "nc1": lambda: nc.nc1(Z, y, K),
        "nc1_pinv": lambda: nc.nc1_pinv(Z, y, K),
        "nc2": lambda: nc.nc2(Z, y, K),
        "nc2_etf": lambda: nc.nc2_etf(Z, y, K),
        "nc3": lambda: nc.nc3(Z, y, W),
        "nc3_distance": lambda: nc.nc3_distance(Z, y, W),
        "negativity": lambda: nc.negativity(Z),
    }


def fast_all(Z, y, W):
    """Every metric of one layer in one call, as ``collapse_report`` computes them."""
    return nc.layer_metrics(Z, y, W.shape[0], W=W, pre=Z)


def naive_all(Z, y, W):
    Z, y, W, K = Z.double().numpy(), y.numpy(), W.double().numpy(), W.shape[0]
    return {
        "nc1": naive.nc1(Z, y, K),
        "nc1_pinv": naive.nc1_pinv(Z, y, K),
        "nc2": naive.nc2(Z, y, K),
        "nc2_etf": naive.nc2_etf(Z, y, K),
        "nc3": naive.nc3(Z, y, W),
        "nc3_distance": naive.nc3_distance(Z, y, W),
        "negativity": naive.negativity(Z),
    }


def best_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--naive-samples", type=int, default=6_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    Z, y, W = features(args.samples, args.dim, args.classes)
    fast_all(Z[::50], y[::50], W)  # warm up
    seconds, _ = best_time(lambda: fast_all(Z, y, W), repeats=3)
    print(f"all metrics of one layer, N={len(y)}, p={args.dim}, K={args.classes}: {seconds:.3f} s (ncutils, best of 3)")
    print("each metric alone:")
    for name, metric in fast_metrics(Z, y, W).items():
        t, _ = best_time(metric, repeats=3)
        print(f"  {name:13s} {t * 1000:8.1f} ms")

    Zs, ys, Ws = features(args.naive_samples, args.dim, args.classes, seed=1)
    fast_seconds, fast = best_time(lambda: fast_all(Zs, ys, Ws), repeats=3)
    naive_seconds, slow = best_time(lambda: naive_all(Zs, ys, Ws), repeats=1)
    worst = max(abs(fast[k] - slow[k]) / abs(slow[k]) for k in METRICS)
    if worst > 1e-8:
        raise SystemExit(f"the two implementations disagree (largest relative difference {worst:.2e})")
    print(
        f"N={len(ys)}: naive per-sample float64 loop {naive_seconds:.2f} s, ncutils {fast_seconds:.3f} s, "
        f"ratio naive/ncutils = {naive_seconds / fast_seconds:.0f}x (values agree to {worst:.1e})"
    )


if __name__ == "__main__":
    main()
