"""Full MNIST and CIFAR-10, read from files the user already has: :func:`mnist`, :func:`cifar10`.

What: readers for the standard MNIST IDX files and the CIFAR-10 "python version"
pickle batches. Both return a class-balanced :class:`ncutils.data.Dataset`.

Why a module of its own: these are the only functions that parse files from disk,
and files on disk can be missing, damaged or hostile. Nothing is ever downloaded.
A missing file is a ``FileNotFoundError`` that says what to put where; a file that
exists but cannot be read is a :class:`DataFileError`, one line that names the
file, says what is wrong with it and what to do. CIFAR-10 batches go through an
unpickler that admits only NumPy's array reconstructors, so a crafted file cannot
run code. ``ncutils.data`` re-exports everything here.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import pickle
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .data import Dataset

__all__ = ["DataFileError", "mnist", "cifar10"]

_MNIST_FIX = (
    "download the official MNIST files again (https://yann.lecun.com/exdb/mnist/ "
    "or a mirror such as https://ossci-datasets.s3.amazonaws.com/mnist/)"
)
_CIFAR_FIX = (
    "download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz again and unpack it "
    "(the official python-version files)"
)


class DataFileError(ValueError):
    """A data file exists but cannot be read: damaged, truncated, of another kind or crafted.

    The message is one line naming the file, what is wrong and what to do.
    """


# ---------------------------------------------------------------- MNIST (IDX files)


def _read_idx(path: Path, expected_magic: int, kind: str) -> np.ndarray:
    """Read one IDX file (the MNIST format), plain or gzipped, into a uint8 array.

    Header: a big-endian int32 magic number — two zero bytes, a type code
    (0x08 = unsigned byte) and the number of dimensions — then one big-endian
    int32 per dimension, then the data in C order. ``kind`` ("images" or
    "labels") only words the error messages.
    """

    def bad(problem: str) -> DataFileError:
        return DataFileError(f"{path} is not a valid MNIST {kind} file: {problem}; {_MNIST_FIX}")

    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise bad(f"it cannot be decompressed as gzip ({error})") from None
    if len(raw) < 4:
        raise bad(f"it holds {len(raw)} bytes, too few for the 4-byte IDX magic number")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        hint = " (the bytes are gzipped: name the file .gz)" if raw[:2] == b"\x1f\x8b" else ""
        raise bad(f"its IDX magic number is {magic}, an MNIST {kind} file has {expected_magic}{hint}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise bad(f"its header is cut short ({len(raw)} bytes, the header alone needs {4 + 4 * ndim})")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = len(raw) - 4 - 4 * ndim
    if size != math.prod(shape):
        what = "truncated" if size < math.prod(shape) else "longer than its header says"
        raise bad(
            f"it is {what}: the header says shape {shape} ({math.prod(shape)} bytes of data), the file holds {size}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _check_labels(labels: np.ndarray, path: Path, fix: str) -> np.ndarray:
    """Labels as int64, every one in 0..9 (both data sets have 10 classes), else one error naming ``path``."""
    if labels.dtype.kind not in "iu":
        raise DataFileError(f"{path}: the labels are not integers (dtype {labels.dtype}); {fix}")
    outside = np.flatnonzero((labels < 0) | (labels > 9))
    if outside.size:
        i = int(outside[0])
        raise DataFileError(
            f"{path}: {outside.size} of its {labels.size} labels lie outside 0..9 (first: label {int(labels[i])} "
            f"at sample {i}); the file is damaged or not from this data set; {fix}"
        )
    return labels.astype(np.int64)


def mnist(
    root: str | os.PathLike,
    train: bool = True,
    per_class: int | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """Full MNIST read from the standard IDX files in the folder ``root``.

    Needs ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (or the
    ``t10k-…`` pair when ``train=False``), plain or gzipped (``.gz``). Nothing is
    downloaded. Full MNIST is not balanced (5,421 to 6,742 training images per
    class), so a seeded random ``per_class`` of each class is kept (default:
    the smallest class). Pixels are scaled to [0, 1] and standardised per
    feature over the kept images; ``X.view(N, 1, 28, 28)`` gives the images.
    A file that exists but cannot be read raises :class:`DataFileError`.
    """
    from .data import _make_dataset  # not at the top: ncutils.data re-exports this module

    root = Path(root)
    prefix = "train" if train else "t10k"
    names = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    paths = []
    for name in names:
        found = [root / n for n in (name, name + ".gz") if (root / n).is_file()]
        if not found:
            raise FileNotFoundError(
                f"MNIST files not found: put {names[0]} and {names[1]} (plain or gzipped, .gz) "
                f"in the folder {str(root)!r}. They are the standard MNIST files "
                f"(https://yann.lecun.com/exdb/mnist/ or a mirror such as "
                f"https://ossci-datasets.s3.amazonaws.com/mnist/). Nothing is downloaded automatically; "
                f"ncutils.mnist_subset() gives 5,000 real MNIST images offline."
            )
        paths.append(found[0])
    images = _read_idx(paths[0], expected_magic=2051, kind="images")
    if images.shape[0] == 0 or images.shape[1:] != (28, 28):
        raise DataFileError(
            f"{paths[0]} is not a valid MNIST images file: it holds {images.shape[0]} images of "
            f"{images.shape[1]}×{images.shape[2]} pixels, MNIST's are 28×28; {_MNIST_FIX}"
        )
    labels = _check_labels(_read_idx(paths[1], expected_magic=2049, kind="labels"), paths[1], _MNIST_FIX)
    if images.shape[0] != labels.shape[0]:
        raise DataFileError(
            f"{paths[0]} holds {images.shape[0]} images but {paths[1]} holds {labels.shape[0]} labels: "
            f"the two files do not belong together; {_MNIST_FIX}"
        )
    X = images.reshape(images.shape[0], -1)
    return _make_dataset(
        X, labels, per_class=per_class, seed=seed, dtype=dtype, name="mnist" if train else "mnist_test", scale=255.0
    )


# ---------------------------------------------------------------- CIFAR-10 (pickle batches)


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch and nothing else: the only globals a batch needs are NumPy's
    array reconstructors; any other (a function, a class) is refused before it can run."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),  # how the official files (NumPy 1) name it
        ("numpy._core.multiarray", "_reconstruct"),  # and NumPy 2
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"it asks for {module}.{name}, which a CIFAR-10 batch never holds (refused: nothing was run)"
            )
        if name == "_reconstruct":
            return _ndarray_reconstruct()
        return getattr(np, name)


def _ndarray_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The n×3072 uint8 images and n int64 labels (0..9) of one CIFAR-10 batch.

    Anything else — not a pickle, truncated, a pickle of something else, a
    forbidden global, bad labels or images — is one :class:`DataFileError` naming ``path``.
    """

    def bad(problem: str) -> DataFileError:
        return DataFileError(f"{path} is not a CIFAR-10 batch: {problem}; {_CIFAR_FIX}")

    raw = path.read_bytes()  # outside the try: an unreadable file (permissions) keeps its own error
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as error:  # the unpickler runs no code of the file's, so any failure means "not a batch"
        problem = str(error)
        if not problem.startswith("it asks for"):  # anything but a refused global: a damaged file
            ended = isinstance(error, EOFError) or "truncated" in problem
            problem = f"it {'is truncated' if ended else 'is not a readable pickle'} ({type(error).__name__}: {error})"
        raise bad(problem) from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = f"a dict with keys {list(batch)[:5]}" if isinstance(batch, dict) else f"a {type(batch).__name__}"
        raise bad(f"it holds {found}, not a dict with b'data' and b'labels'")
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray):
        raise bad(f"b'data' is a {type(data).__name__}, not a uint8 NumPy array")
    if data.dtype != np.uint8:
        raise bad(f"b'data' is a {data.dtype} array, not uint8")
    if not isinstance(labels, (list, np.ndarray)):
        raise bad(f"b'labels' is a {type(labels).__name__}, not a list of integers")
    labels = np.asarray(labels)
    if data.ndim == 2 and data.shape[0] == 0:
        raise bad("it holds no images")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (data.shape[0],):
        raise bad(
            f"b'data' has shape {data.shape} and b'labels' shape {labels.shape}; "
            f"expected n×3072 (n images of 3×32×32) and n labels"
        )
    return data, _check_labels(labels, path, _CIFAR_FIX)


def cifar10(
    root: str | os.PathLike,
    train: bool = True,
    per_class: int | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """CIFAR-10 read from the "python version" pickle batches in ``root``.

    Accepts ``root/cifar-10-batches-py/`` (what the official archive unpacks to)
    or ``root`` itself holding ``data_batch_1`` … ``data_batch_5`` (train) or
    ``test_batch`` (``train=False``). Nothing is downloaded. The batches are read
    by a restricted unpickler that admits only what the format holds (a dict of
    bytes, lists and one uint8 NumPy array): a crafted file cannot run code.
    A batch that exists but cannot be read raises :class:`DataFileError`.

    ``X`` is N×3072: each image flattened in the pickle's channel-major order
    (1024 red, then 1024 green, then 1024 blue values), scaled to [0, 1] and
    standardised per feature over the kept images. ``X.view(N, 3, 32, 32)``
    gives C×H×W images for a convolutional network. CIFAR-10 is balanced;
    ``per_class`` keeps a seeded random subset (default: all, 5,000 per class
    for training). The full training set is 50,000 × 3,072 floats (≈ 600 MB
    in float32).
    """
    from .data import _make_dataset  # not at the top: ncutils.data re-exports this module

    root = Path(root)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    folders = [root / "cifar-10-batches-py", root]
    folder = next((f for f in folders if all((f / n).is_file() for n in names)), None)
    if folder is None:
        raise FileNotFoundError(
            f"CIFAR-10 files not found: put {', '.join(names)} in the folder {str(folders[0])!r} "
            f'or {str(root)!r}. They are the CIFAR-10 "python version" '
            f"(https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, which unpacks to "
            f"cifar-10-batches-py/). Nothing is downloaded automatically."
        )
    batches = [_read_cifar_batch(folder / name) for name in names]
    return _make_dataset(
        np.concatenate([images for images, _ in batches]),
        np.concatenate([labels for _, labels in batches]),
        per_class=per_class,
        seed=seed,
        dtype=dtype,
        name="cifar10" if train else "cifar10_test",
        scale=255.0,
    )
