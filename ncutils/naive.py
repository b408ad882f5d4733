"""The metrics' formulas written out literally: NumPy float64, one sample at a time.

Deliberately slow and plain. The tests check the fast versions in
``metrics.py`` against these, and ``benchmarks/metrics.py`` times both.
"""

from __future__ import annotations

import numpy as np


def class_means(Z, y, K):
    means = np.zeros((K, Z.shape[1]))
    counts = np.zeros(K)
    for z, label in zip(Z, y):
        means[label] += z
        counts[label] += 1
    return means / counts[:, None]


def _scatters(Z, y, K):
    N, p = Z.shape
    means = class_means(Z, y, K)
    global_mean = means.mean(axis=0)
    within = np.zeros((p, p))
    for z, label in zip(Z, y):
        d = z - means[label]
        within += np.outer(d, d)
    between = np.zeros((p, p))
    for mu in means:
        d = mu - global_mean
        between += np.outer(d, d)
    return within / N, between / K, means


def nc1(Z, y, K):
    within, between, _ = _scatters(Z, y, K)
    return np.trace(within) / np.trace(between)


def nc1_pinv(Z, y, K, eig_rtol=1e-10):
    within, between, _ = _scatters(Z, y, K)
    # Σ_B has rank ≤ K − 1: invert it on its range only (eigenvalues above eig_rtol · max).
    values, vectors = np.linalg.eigh(between)
    keep = values > eig_rtol * values.max()
    pinv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    return np.trace(within @ pinv) / K


def condition_number(A, rtol=1e-8):
    s = np.linalg.svd(A, compute_uv=False)
    s = s[s > rtol * s[0]]
    return s[0] / s[-1]


def nc2(Z, y, K, rtol=1e-8):
    s = np.linalg.svd(class_means(Z, y, K), compute_uv=False)
    if len(s) < K or not s[K - 1] > rtol * s[0]:
        return np.inf  # rank below K: not a frame of K directions
    return s[0] / s[K - 1]


def nc2_etf(Z, y, K):
    means = class_means(Z, y, K)
    centred = means - means.mean(axis=0)
    G = centred @ centred.T
    etf = (np.eye(K) - np.ones((K, K)) / K) / np.sqrt(K - 1)
    return np.linalg.norm(G / np.linalg.norm(G) - etf)


def nc3(Z, y, W):
    means = class_means(Z, y, W.shape[0])
    cosines = [w @ m / (np.linalg.norm(w) * np.linalg.norm(m)) for w, m in zip(W, means)]
    return float(np.mean(cosines))


def nc3_distance(Z, y, W):
    means = class_means(Z, y, W.shape[0])
    return np.linalg.norm(W / np.linalg.norm(W) - means / np.linalg.norm(means)) ** 2


def balancedness(W_lower, W_upper):
    D = W_upper.T @ W_upper - W_lower @ W_lower.T
    return np.linalg.norm(D) / np.linalg.norm(W_lower @ W_lower.T)


def balancedness_op(W_lower, W_upper):
    return np.linalg.norm(W_upper.T @ W_upper - W_lower @ W_lower.T, ord=2)


def negativity(H):
    return np.linalg.norm(np.minimum(H, 0), ord=2) / np.linalg.norm(H, ord=2)
