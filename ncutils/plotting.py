"""The book's figure style and its few standard figures."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

from .results import seed_band

# Okabe–Ito: distinguishable with every common form of colour blindness.
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

METRIC_LABELS = {
    "nc1": "NC1  tr Σ_W / tr Σ_B",
    "nc1_pinv": "NC1  tr(Σ_W Σ_B⁺)/K",
    "nc2": "NC2  κ(class means)",
    "nc2_etf": "NC2  distance to simplex ETF",
    "nc3": "NC3  cos(W_L rows, means)",
    "nc3_distance": "NC3  distance",
    "balancedness": "balancedness (relative)",
    "balancedness_op": "imbalance ‖D‖_op",
    "negativity": "negativity",
    "loss": "loss  L_λ",
    "data_loss": "data term  ½‖f(X) − Y‖²_F / N",
}


def use_book_style() -> None:
    """One style for every figure: readable at 80% page width, colour-blind-safe colours."""
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "font.size": 11,
            "axes.titlesize": 11,
            "axes.labelsize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.prop_cycle": mpl.cycler(color=COLORS),
            "lines.linewidth": 1.8,
            "legend.frameon": False,
            "image.cmap": "RdBu_r",
        }
    )


def plot_metric(history, name: str, layers=None, ax=None, log: bool = True, label_prefix: str = "layer "):
    """Curves of one metric over training, one per layer (default: every layer where it applies).

    ``name`` is a column of the collapse report (``nc1``, ``nc2``, …) or ``loss`` / ``data_loss``,
    which have one curve for the whole network.
    """
    if not history.steps:
        raise ValueError("this history has no recorded steps: there is nothing to plot")
    ax = ax if ax is not None else plt.gca()
    if name in ("loss", "data_loss"):
        ax.plot(history.steps, getattr(history, name), label=name)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(METRIC_LABELS.get(name, name))
        return ax
    L = len(history.final["layer"])
    layers = layers if layers is not None else range(1, L + 1)
    for layer in layers:
        values = history.metric(name, layer)
        if np.all(np.isnan(values)):
            continue
        ax.plot(history.steps, values, label=f"{label_prefix}{layer if layer > 0 else L + 1 + layer}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(METRIC_LABELS.get(name, name))
    return ax


def show_matrix(A, ax=None, title: str = "", symmetric: bool = True):
    """A matrix as an image (e.g. the K×p class means, or their K×K Gram matrix)."""
    ax = ax if ax is not None else plt.gca()
    A = A.detach().cpu().numpy() if isinstance(A, torch.Tensor) else np.asarray(A)
    vmax = float(np.abs(A).max()) or 1.0
    image = ax.imshow(A, vmin=-vmax if symmetric else None, vmax=vmax if symmetric else None)
    ax.set_title(title)
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def plot_band(ax, x, values, label=None, color=None, log=True, **kwargs):
    """Mean over seeds (rows of ``values``) with a ±1 standard-deviation band (see :func:`seed_band`).

    On a log axis the mean and band are taken over log10 of the values (a geometric
    mean and a multiplicative band), so the band never dips below zero.

    Where any seed is infinite (NC2 of rank-deficient class means) the mean is infinite and
    cannot be drawn: the line has a gap there, and a triangle on the top edge of the axes
    marks each such step, so the gap is never silent. Returns the line.
    """
    x = np.asarray(x)
    centre, low, high = seed_band(values, log)
    if log:
        ax.set_yscale("log")
    (line,) = ax.plot(x, np.where(np.isinf(centre), np.nan, centre), label=label, color=color, **kwargs)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    infinite = np.isposinf(centre)
    if infinite.any():
        ax.plot(
            x[infinite],
            np.ones(infinite.sum()),
            linestyle="none",
            marker="^",
            color=line.get_color(),
            transform=ax.get_xaxis_transform(),
            clip_on=False,
        )
    return line
