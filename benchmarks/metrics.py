"""How fast are the metrics? Against one Gram matrix, against the literal formulas, and against training.

    python benchmarks/metrics.py [--samples 60000] [--naive-samples 6000] [--dim 512] [--classes 10]

Prints, on the same data with 2 threads:

1. the time of every metric of one layer at MNIST size (N = 60,000, p = 512, K = 10) against
   the time of one float32 ``Z.T @ Z`` measured in the same run (the two interleaved, best of 5):
   the goal is a ratio of at most 2; and the Krylov iterations of the two operator norms that
   negativity needs, with their certified error;
2. the ratio naive / ncutils on a smaller N where the naive per-sample float64 loop finishes in
   reasonable time, after checking that the two agree to 1e-8 relative;
3. the cost of ``collapse_report`` of a whole network (what training records) in training steps
   of the same network: the laptop layer-wise MLP (500 images, full batch) and a network of the
   paper's size (widths 1024, 60,000 random MNIST-shaped images, batches of 128).
"""

from __future__ import annotations

import argparse
import time

import torch

import ncutils as nc
from ncutils import naive
from ncutils.spectral import top_singular_value

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


def against_gram(Z, y, W, repeats=5):
    """Best times of one float32 ZᵀZ and of all metrics of the layer, measured alternately."""
    gram, metrics = float("inf"), float("inf")
    for _ in range(repeats):
        gram = min(gram, best_time(lambda: Z.T @ Z, 1)[0])
        metrics = min(metrics, best_time(lambda: fast_all(Z, y, W), 1)[0])
    return gram, metrics


def report_against_step(name, model, data, batch_size, repeats=3, steps=21):
    """Seconds of one collapse_report of ``model`` on ``data``, and of one training step: the time of
    ``steps`` steps minus that of 1, over ``steps − 1``, so that nc.train's own records cancel."""

    def train(count):
        config = nc.TrainConfig(
            lr=1e-3, weight_decay=1e-3, steps=count, batch_size=batch_size, record=0, progress=False
        )
        return best_time(lambda: nc.train(model, data, config), 1)[0]

    train(1)  # warm up
    step = min((train(steps) - train(1)) / (steps - 1) for _ in range(repeats))
    report = best_time(lambda: nc.collapse_report(model, data), repeats)[0]
    print(f"  {name}: collapse_report {report * 1000:.0f} ms, one step {step * 1000:.1f} ms: {report / step:.1f} steps")


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
    gram, seconds = against_gram(Z, y, W)
    print(f"N={len(y)}, p={args.dim}, K={args.classes}, best of 5:")
    print(f"  one float32 Z.T @ Z:                 {gram * 1000:6.0f} ms")
    print(
        f"  all metrics of the layer (ncutils):  {seconds * 1000:6.0f} ms = {seconds / gram:.2f} x Z.T @ Z (goal: <= 2)"
    )
    print("each metric alone:")
    for name, metric in fast_metrics(Z, y, W).items():
        t, _ = best_time(metric, repeats=3)
        print(f"  {name:13s} {t * 1000:8.1f} ms")
    print("the two operator norms of negativity (block Krylov, then a float64 certificate):")
    for label, negative in (("||Z||_op", False), ("||min(Z, 0)||_op", True)):
        found = top_singular_value(Z, negative_part=negative)
        print(
            f"  {label:17s} {found.iterations} Krylov steps in float32 + {found.float64_iterations} in float64, "
            f"certified relative error of the square <= {found.error_bound:.1e}"
        )

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

    print("collapse_report of a whole network, in training steps of the same network:")
    laptop = nc.NCNet(784, [128] * 5, [64] * 3, 10, seed=0)
    report_against_step("laptop layer-wise MLP, N=500, full batch", laptop, nc.mnist_subset(per_class=50), None)
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat_interleave(args.samples // 10)
    images = nc.Dataset(torch.rand(len(labels), 784, generator=g), labels, 10, name="random MNIST-shaped")
    paper = nc.NCNet(784, [1024] * 5, [1024] * 3, 10, seed=0)
    name = f"paper-size MLP (widths 1024), N={len(labels)}, batch 128"
    report_against_step(name, paper, images, 128, repeats=2, steps=201)  # 200 steps outweigh the records' noise


if __name__ == "__main__":
    main()
