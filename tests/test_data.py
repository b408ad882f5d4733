"""Tests of ncutils.data: the Dataset type, its validation and every constructor."""

import gzip
import pickle
import struct
import zlib

import numpy as np
import pytest
import torch

from ncutils.data import DataFileError, Dataset, cifar10, digits, gaussian_mixture, mnist, mnist_subset


def class_counts(ds):
    return torch.bincount(ds.y, minlength=ds.num_classes).tolist()


def is_sorted(y):
    return bool((y[1:] >= y[:-1]).all())


# ---------------------------------------------------------------- gaussian_mixture


def test_gaussian_mixture_shapes_and_order():
    ds = gaussian_mixture(num_classes=4, per_class=6, dim=5)
    assert ds.X.shape == (24, 5) and ds.y.shape == (24,)
    assert ds.X.dtype == torch.float32 and ds.y.dtype == torch.int64
    assert (ds.num_samples, ds.dim, ds.per_class, ds.num_classes) == (24, 5, 6, 4)
    assert class_counts(ds) == [6, 6, 6, 6]
    assert torch.equal(ds.y, torch.arange(4).repeat_interleave(6))
    assert ds.name == "gaussian_mixture"


def test_gaussian_mixture_seeds():
    a, b = gaussian_mixture(3, 5, 7, seed=1), gaussian_mixture(3, 5, 7, seed=1)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    assert not torch.equal(a.X, gaussian_mixture(3, 5, 7, seed=2).X)


def test_gaussian_mixture_geometry_and_dtype():
    ds = gaussian_mixture(3, 2000, 50, separation=4.0, noise=0.5, dtype=torch.float64)
    assert ds.X.dtype == torch.float64
    means = ds.X.view(3, 2000, 50).mean(dim=1)
    assert torch.allclose(means.norm(dim=1), torch.full((3,), 4.0, dtype=torch.float64), atol=0.05)
    noise_norms = (ds.X - means.repeat_interleave(2000, dim=0)).norm(dim=1)
    assert abs(noise_norms.mean().item() - 0.5) < 0.02
    # float32 and float64 versions agree up to rounding
    ds32 = gaussian_mixture(3, 2000, 50, separation=4.0, noise=0.5)
    assert torch.allclose(ds32.X.double(), ds.X, atol=1e-6)


def test_gaussian_mixture_zero_separation():
    ds = gaussian_mixture(3, 4, 2, separation=0.0, noise=1.0)
    assert torch.isfinite(ds.X).all() and ds.X.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(num_classes=1), "num_classes"),
        (dict(num_classes=2.5), "num_classes"),
        (dict(per_class=1), "per_class"),
        (dict(per_class=0), "per_class"),
        (dict(dim=0), "dim"),
        (dict(separation=-1.0), "separation"),
        (dict(noise=-0.1), "noise"),
        (dict(noise=float("nan")), "noise"),
        (dict(seed=-3), "seed"),
        (dict(dtype=torch.int64), "dtype"),
    ],
)
def test_gaussian_mixture_bad_arguments(kwargs, name):
    args = dict(num_classes=3, per_class=4, dim=5) | kwargs
    with pytest.raises(ValueError, match=name):
        gaussian_mixture(**args)


# ---------------------------------------------------------------- Dataset validation


def labels(*counts):
    return torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])


@pytest.mark.parametrize(
    "X, y, K, message",
    [
        (torch.zeros(6), labels(3, 3), 2, r"X must be a 2-D .* shape \(6,\)"),
        (torch.zeros(6, 2), labels(3, 3).view(3, 2), 2, r"y must be a 1-D .* shape \(3, 2\)"),
        (torch.zeros(5, 2), labels(3, 3), 2, r"X with 5 rows and y with 6 labels"),
        (torch.zeros(6, 2, dtype=torch.int64), labels(3, 3), 2, r"X must be floating point, got dtype torch.int64"),
        (torch.zeros(6, 2), labels(3, 3).float(), 2, r"y must hold integer labels"),
        (
            torch.tensor([[float("nan"), 0.0]] * 3 + [[float("inf"), 0.0]] * 3),
            labels(3, 3),
            2,
            r"X contains 6 non-finite values",
        ),
        (torch.zeros(6, 2), labels(3, 3), 1, r"num_classes must be an integer >= 2, got 1"),
        (torch.zeros(6, 2), torch.tensor([0, 0, 0, 1, 1, 7]), 2, r"y contains label 7"),
        (torch.zeros(6, 2), torch.tensor([0, 0, 0, 1, 1, -1]), 2, r"y contains label -1"),
        (torch.zeros(6, 2), labels(3, 0, 3), 3, r"class 1 has no samples"),
        (torch.zeros(7, 2), labels(4, 3), 2, r"balanced.*\[4, 3\]"),
        (torch.zeros(2, 2), labels(1, 1), 2, r"at least 2 samples.*got 1"),
    ],
)
def test_dataset_validation(X, y, K, message):
    with pytest.raises(ValueError, match=message):
        Dataset(X, y, K)


def test_dataset_nonfinite_count():
    X = torch.zeros(4, 3)
    X[0, 0], X[1, 2], X[3, 1] = float("nan"), float("inf"), -float("inf")
    with pytest.raises(ValueError, match="X contains 3 non-finite values"):
        Dataset(X, labels(2, 2), 2)


def test_dataset_sorts_by_class_stably():
    X = torch.arange(6.0).view(6, 1)
    ds = Dataset(X, torch.tensor([1, 0, 1, 0, 0, 1], dtype=torch.int32), 2)
    assert ds.y.dtype == torch.int64
    assert ds.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.X.flatten().tolist() == [1.0, 3.0, 4.0, 0.0, 2.0, 5.0]


def test_to_and_one_hot():
    ds = gaussian_mixture(3, 4, 5)
    ds64 = ds.to(dtype=torch.float64)
    assert ds64.X.dtype == torch.float64 and ds64.y.dtype == torch.int64
    assert torch.equal(ds64.X, ds.X.double()) and torch.equal(ds64.y, ds.y)
    assert ds.X.dtype == torch.float32  # the original is unchanged
    Y = ds64.one_hot()
    assert Y.shape == (12, 3) and Y.dtype == torch.float64
    assert torch.equal(Y.sum(dim=1), torch.ones(12, dtype=torch.float64))
    assert torch.equal(Y.sum(dim=0), torch.full((3,), 4.0, dtype=torch.float64))
    assert torch.equal(Y.argmax(dim=1), ds.y)
    with pytest.raises(ValueError, match="dtype"):
        ds.to(dtype=torch.int32)


def test_subset_per_class():
    ds = gaussian_mixture(3, 10, 4)
    sub = ds.subset_per_class(4, seed=5)
    assert class_counts(sub) == [4, 4, 4] and is_sorted(sub.y)
    assert torch.equal(sub.X, ds.subset_per_class(4, seed=5).X)
    # every chosen row is a row of the original, from the same class
    for x, c in zip(sub.X, sub.y):
        assert (ds.X[ds.y == c] == x).all(dim=1).any()
    with pytest.raises(ValueError, match="per_class"):
        ds.subset_per_class(11)
    with pytest.raises(ValueError, match="per_class"):
        ds.subset_per_class(1)


# ---------------------------------------------------------------- bundled data


def test_digits():
    ds = digits()
    assert ds.num_classes == 10 and ds.dim == 64 and ds.name == "digits"
    assert class_counts(ds) == [174] * 10 and is_sorted(ds.y)
    assert torch.isfinite(ds.X).all()
    assert ds.X.mean(dim=0).abs().max() < 1e-5
    stds = ds.X.double().std(dim=0, unbiased=False)
    assert torch.all(((stds - 1).abs() < 1e-4) | (stds == 0))
    assert (stds == 0).any()  # some border pixels are always blank: they stay 0, not NaN
    small = digits(per_class=20)
    assert small.num_samples == 200 and class_counts(small) == [20] * 10
    assert torch.equal(small.X, digits(per_class=20).X)
    assert not torch.equal(small.X, digits(per_class=20, seed=1).X)


def test_mnist_subset():
    ds = mnist_subset()
    assert ds.X.shape == (5000, 784) and ds.name == "mnist_subset"
    assert class_counts(ds) == [500] * 10
    assert torch.isfinite(ds.X).all() and ds.X.mean(dim=0).abs().max() < 1e-4
    assert class_counts(mnist_subset(per_class=30)) == [30] * 10


# ---------------------------------------------------------------- MNIST from IDX files


def write_idx(path, array, magic, gz=False):
    array = np.asarray(array, dtype=np.uint8)
    data = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def write_mnist(folder, images, labels, prefix="train", gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / f"{prefix}-images-idx3-ubyte", images, 2051, gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, 2049, gz)


def standardise(X):
    X = X.astype(np.float64) / 255
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std == 0, 1, std)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_pixels(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = 0  # a blank pixel must stay 0
    labels = np.array([2, 0, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2], dtype=np.uint8)
    write_mnist(tmp_path, images, labels, gz=gz)
    ds = mnist(tmp_path, dtype=torch.float64)
    assert ds.X.shape == (12, 784) and ds.num_classes == 3 and class_counts(ds) == [4, 4, 4]
    order = np.argsort(labels, kind="stable")  # all images kept, sorted by class
    expected = standardise(images.reshape(12, -1)[order])
    assert np.allclose(ds.X.numpy(), expected)
    assert ds.y.tolist() == sorted(labels.tolist())
    assert (ds.X[:, 0] == 0).all()


def test_mnist_balances_and_finds_known_image(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(13, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2] * 4 + [0], dtype=np.uint8)  # class 0 has one extra image
    flat = images.reshape(13, -1)
    for train, prefix in ((True, "train"), (False, "t10k")):
        write_mnist(tmp_path, images, labels, prefix=prefix, gz=not train)
        ds = mnist(tmp_path, train=train, seed=3, dtype=torch.float64)
        assert class_counts(ds) == [4, 4, 4] and is_sorted(ds.y)
        # one class-0 image was left out: exactly one choice reproduces the returned pixels
        class0, others = np.flatnonzero(labels == 0), [np.flatnonzero(labels == c) for c in (1, 2)]
        matches = []
        for dropped in class0:
            kept = np.concatenate([class0[class0 != dropped], *others])
            if np.allclose(ds.X.numpy(), standardise(flat[kept])):
                matches.append(kept)
        assert len(matches) == 1
        # the known image (index 4, class 1: all of class 1 is kept) sits in class 1's rows
        kept = matches[0]
        row = int(np.flatnonzero(kept == 4)[0])
        assert ds.y[row] == 1 and 4 <= row < 8
    # the draw is seeded: same seed, same subset; a smaller per_class is balanced too
    a, b = mnist(tmp_path, per_class=3, seed=7), mnist(tmp_path, per_class=3, seed=7)
    assert torch.equal(a.X, b.X) and class_counts(a) == [3, 3, 3]


def test_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte") as info:
        mnist(tmp_path / "nowhere")
    assert "nowhere" in str(info.value) and "downloaded" in str(info.value)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        mnist(tmp_path, train=False)


# ---------------------------------------------------------------- MNIST: damaged files
# Each test gives a one-line reproduction: make a folder ``data`` with the MNIST files (plain or
# .gz), damage one as the test describes, then run the command in the docstring.


def assert_data_file_error(call, filename, *fragments):
    """``call()`` raises one DataFileError: one line, naming ``filename``, saying what to do."""
    with pytest.raises(DataFileError) as info:
        call()
    message = str(info.value)
    assert isinstance(info.value, ValueError)  # code that caught ValueError still does
    assert filename in message and "\n" not in message
    assert "download" in message and "again" in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def good_mnist(folder, gz=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    write_mnist(folder, images, np.array([0, 1, 2, 0, 1, 2]), gz=gz)
    return folder / ("train-images-idx3-ubyte" + (".gz" if gz else ""))


def flip(raw, start, stop):
    return raw[:start] + bytes(b ^ 0xFF for b in raw[start:stop]) + raw[stop:]


@pytest.mark.parametrize(
    "damage, raises",
    [
        # a .gz that is not gzip at all (the plain IDX bytes): gzip.BadGzipFile
        (lambda raw: gzip.decompress(raw), gzip.BadGzipFile),
        # a .gz cut in half (an interrupted download): EOFError
        (lambda raw: raw[: len(raw) // 2], EOFError),
        # a .gz with damaged compressed bytes (just after a 10-byte header): zlib.error
        (lambda raw: flip(gzip.compress(gzip.decompress(raw)), 10, 30), zlib.error),
        # a .gz whose checksum does not match (a flipped byte in the trailer): gzip.BadGzipFile (an OSError)
        (lambda raw: flip(raw, len(raw) - 8, len(raw) - 4), OSError),
    ],
    ids=["not_gzip", "truncated", "corrupt_stream", "bad_crc"],
)
def test_mnist_damaged_gz(tmp_path, damage, raises):
    """Reproduce: damage data/train-images-idx3-ubyte.gz as the case says (e.g. `truncate -s 5000 FILE`), then
    python -c "import ncutils as nc; nc.mnist('data')"."""
    path = good_mnist(tmp_path, gz=True)
    damaged = damage(path.read_bytes())
    path.write_bytes(damaged)
    with pytest.raises(raises):  # the case really is the failure it names
        gzip.decompress(damaged)
    assert_data_file_error(lambda: mnist(tmp_path), str(path), "cannot be decompressed as gzip")


def test_mnist_wrong_magic(tmp_path):
    """Reproduce: copy data/train-images-idx3-ubyte over data/train-labels-idx1-ubyte, then
    python -c "import ncutils as nc; nc.mnist('data')"."""
    write_mnist(tmp_path, np.zeros((4, 28, 28)), np.array([0, 0, 1, 1]))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((4, 28, 28)), 2051)
    assert_data_file_error(
        lambda: mnist(tmp_path), "train-labels-idx1-ubyte", "magic number is 2051, an MNIST labels file has 2049"
    )


def test_mnist_plain_name_for_gzipped_bytes(tmp_path):
    """Reproduce: `mv data/train-images-idx3-ubyte.gz data/train-images-idx3-ubyte`, then
    python -c "import ncutils as nc; nc.mnist('data')"."""
    path = good_mnist(tmp_path, gz=True)
    path.rename(tmp_path / "train-images-idx3-ubyte")
    assert_data_file_error(lambda: mnist(tmp_path), "train-images-idx3-ubyte", "name the file .gz")


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "holds 0 bytes"),  # an empty file: `: > data/train-images-idx3-ubyte`
        (b"\x00\x00\x08", "holds 3 bytes"),  # shorter than the magic number: `head -c 3`
        (struct.pack(">II", 2051, 6), "header is cut short"),  # the magic number and 1 of 3 sizes: `head -c 8`
    ],
    ids=["empty", "no_magic", "short_header"],
)
def test_mnist_header_cut_short(tmp_path, content, fragment):
    """Reproduce: `head -c 8 data/train-images-idx3-ubyte > x && mv x data/train-images-idx3-ubyte`, then
    python -c "import ncutils as nc; nc.mnist('data')"."""
    path = good_mnist(tmp_path)
    path.write_bytes(content)
    assert_data_file_error(lambda: mnist(tmp_path), str(path), fragment)


@pytest.mark.parametrize("size_change, fragment", [(-100, "is truncated"), (+5, "longer than its header says")])
def test_mnist_file_length_disagrees_with_header(tmp_path, size_change, fragment):
    """Reproduce: `truncate -s -100 data/train-images-idx3-ubyte` (or -s +5), then
    python -c "import ncutils as nc; nc.mnist('data')"."""
    path = good_mnist(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[:size_change] if size_change < 0 else raw + bytes(size_change))
    message = assert_data_file_error(lambda: mnist(tmp_path), str(path), fragment)
    assert "(6, 28, 28)" in message


def test_mnist_images_of_the_wrong_size(tmp_path):
    """Reproduce: write data/train-images-idx3-ubyte holding 20×20 images (a valid IDX file), then
    python -c "import ncutils as nc; nc.mnist('data')"."""
    write_mnist(tmp_path, np.zeros((4, 20, 20)), np.array([0, 0, 1, 1]))
    assert_data_file_error(lambda: mnist(tmp_path), "train-images-idx3-ubyte", "20×20", "28×28")


def test_mnist_label_outside_0_to_9(tmp_path):
    """Reproduce: set one byte of the labels in data/train-labels-idx1-ubyte to 10, then
    python -c "import ncutils as nc; nc.mnist('data')"."""
    write_mnist(tmp_path, np.zeros((4, 28, 28)), np.array([0, 1, 10, 1]))
    assert_data_file_error(
        lambda: mnist(tmp_path),
        "train-labels-idx1-ubyte",
        "1 of its 4 labels lie outside 0..9 (first: label 10 at sample 2)",
    )


def test_mnist_images_and_labels_disagree(tmp_path):
    """Reproduce: put the t10k labels file in data/ as train-labels-idx1-ubyte, then
    python -c "import ncutils as nc; nc.mnist('data')"."""
    write_mnist(tmp_path, np.zeros((4, 28, 28)), np.array([0, 1, 0, 1, 0, 1]))
    message = assert_data_file_error(lambda: mnist(tmp_path), "train-images-idx3-ubyte", "do not belong together")
    assert "train-labels-idx1-ubyte" in message and "4 images" in message and "6 labels" in message


# ---------------------------------------------------------------- CIFAR-10 from pickle batches


def write_cifar(folder, labels_per_batch, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, labels in zip(names, labels_per_batch):
        batch = {
            b"batch_label": name.encode(),
            b"labels": list(labels),
            b"data": rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)


@pytest.mark.parametrize("subfolder", ["cifar-10-batches-py", ""])
def test_cifar10(tmp_path, subfolder):
    train_labels = [[0, 1, 2], [2, 1, 0], [0, 0, 1], [1, 2, 2], [0, 1, 2, 0]]  # class 0 has 6, others 5
    write_cifar(tmp_path / subfolder if subfolder else tmp_path, train_labels + [[0, 1, 2, 1, 2, 0]])
    ds = cifar10(tmp_path)
    assert ds.X.shape == (15, 3072) and ds.X.dtype == torch.float32 and ds.name == "cifar10"
    assert ds.num_classes == 3 and class_counts(ds) == [5, 5, 5] and is_sorted(ds.y)
    assert torch.isfinite(ds.X).all() and ds.X.mean(dim=0).abs().max() < 1e-5
    assert ds.X.view(15, 3, 32, 32).shape == (15, 3, 32, 32)
    test = cifar10(tmp_path, train=False, dtype=torch.float64)
    assert test.X.shape == (6, 3072) and class_counts(test) == [2, 2, 2]
    # the test set is small and balanced, so its pixels are exactly the standardised batch
    with open((tmp_path / subfolder) / "test_batch", "rb") as f:
        batch = pickle.load(f)
    order = np.argsort(batch[b"labels"], kind="stable")
    assert np.allclose(test.X.numpy(), standardise(batch[b"data"][order]))


def test_cifar10_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_1") as info:
        cifar10(tmp_path)
    assert "cifar-10-batches-py" in str(info.value) and "downloaded" in str(info.value)
    with pytest.raises(FileNotFoundError, match="test_batch"):
        cifar10(tmp_path, train=False)


# ---------------------------------------------------------------- CIFAR-10: damaged and crafted files
# Reproduce each: unpack the official archive into ``data`` (data/cifar-10-batches-py/), replace or
# damage the batch as the test describes, then run the command in the docstring.


def write_batch(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)


class _RunsCode:
    """Unpickling this object would create ``marker``: a stand-in for any code a crafted file runs."""

    def __init__(self, marker, how="os"):
        self.marker, self.how = str(marker), how

    def __reduce__(self):
        import os

        if self.how == "os":
            return os.system, (f"touch {self.marker}",)
        return exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.mark.parametrize("how, refused", [("os", "posix.system"), ("exec", "builtins.exec")])
def test_cifar10_crafted_batch_runs_no_code(tmp_path, how, refused):
    """Reproduce: replace data/cifar-10-batches-py/data_batch_3 by a pickle whose __reduce__ returns
    (os.system, ("touch code_ran",)), then python -c "import ncutils as nc; nc.cifar10('data')" (no code_ran)."""
    write_cifar(tmp_path, [[0, 1]] * 6)
    marker = tmp_path / "code_ran"
    write_batch(tmp_path / "data_batch_3", {b"data": _RunsCode(marker, how), b"labels": [0]})
    pickle.loads(pickle.dumps(_RunsCode(tmp_path / "control", how)))  # the marker works: plain pickle runs the code
    assert (tmp_path / "control").exists()
    message = assert_data_file_error(lambda: cifar10(tmp_path), "data_batch_3", "nothing was run")
    assert refused in message or "os.system" in message
    assert not marker.exists()


def test_cifar10_not_a_pickle(tmp_path):
    """Reproduce: `echo hello > data/cifar-10-batches-py/data_batch_2`, then
    python -c "import ncutils as nc; nc.cifar10('data')"."""
    write_cifar(tmp_path, [[0, 1]] * 6)
    (tmp_path / "data_batch_2").write_text("hello, I am not a pickle\n")
    assert_data_file_error(lambda: cifar10(tmp_path), "data_batch_2", "is not a readable pickle")


@pytest.mark.parametrize(
    "obj, fragment",
    [
        ([1, 2, 3], "holds a list"),  # a pickled list
        ({"data": 1, "labels": []}, "a dict with keys ['data', 'labels']"),  # str keys, not bytes
        (
            {b"data": [[0] * 3072], b"labels": [0]},
            "b'data' is a list, not a uint8 NumPy array",
        ),  # images not a NumPy array
        ({b"data": np.zeros((1, 3072)), b"labels": [0]}, "float64 array, not uint8"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": "0"}, "b'labels' is a str, not a list of integers"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0.5]}, "labels are not integers"),
        ({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, "holds no images"),
    ],
    ids=["list", "str_keys", "data_list", "data_float", "labels_str", "labels_float", "empty"],
)
def test_cifar10_pickle_of_something_else(tmp_path, obj, fragment):
    """Reproduce: python -c "import pickle; pickle.dump([1, 2, 3], open('data/cifar-10-batches-py/test_batch', 'wb'))"
    then python -c "import ncutils as nc; nc.cifar10('data', train=False)"."""
    write_cifar(tmp_path, [[0, 1]] * 6)
    write_batch(tmp_path / "test_batch", obj)
    assert_data_file_error(lambda: cifar10(tmp_path, train=False), "test_batch", fragment)


def test_cifar10_truncated_batch_names_the_file(tmp_path):
    """Reproduce: `truncate -s 15M data/cifar-10-batches-py/data_batch_2`, then
    python -c "import ncutils as nc; nc.cifar10('data')"."""
    write_cifar(tmp_path, [[0, 1]] * 6)
    content = (tmp_path / "data_batch_2").read_bytes()
    (tmp_path / "data_batch_2").write_bytes(content[: len(content) // 2])
    assert_data_file_error(lambda: cifar10(tmp_path), "data_batch_2", "is truncated (UnpicklingError")


@pytest.mark.parametrize("bad_label", [10, -1])
def test_cifar10_label_outside_0_to_9(tmp_path, bad_label):
    """Reproduce: re-pickle data/cifar-10-batches-py/data_batch_4 with one label set to 10, then
    python -c "import ncutils as nc; nc.cifar10('data')" (an error, not an 11-class data set)."""
    write_cifar(tmp_path, [[0, 1, 2]] * 3 + [[0, bad_label, 2], [0, 1, 2], [0, 1, 2]])
    assert_data_file_error(
        lambda: cifar10(tmp_path),
        "data_batch_4",
        f"1 of its 3 labels lie outside 0..9 (first: label {bad_label} at sample 1)",
    )


@pytest.mark.parametrize(
    "data, labels, fragment",
    [
        (np.zeros((2, 1024), np.uint8), [0, 1], "shape (2, 1024)"),  # grey 32×32 images
        (np.zeros((2, 3, 32, 32), np.uint8), [0, 1], "shape (2, 3, 32, 32)"),  # unflattened images
        (np.zeros((3, 3072), np.uint8), [0, 1], "shape (3, 3072) and b'labels' shape (2,)"),  # one label missing
    ],
    ids=["grey", "unflattened", "label_missing"],
)
def test_cifar10_images_of_the_wrong_size(tmp_path, data, labels, fragment):
    """Reproduce: re-pickle data/cifar-10-batches-py/data_batch_5 with b'data' of shape (n, 1024), then
    python -c "import ncutils as nc; nc.cifar10('data')"."""
    write_cifar(tmp_path, [[0, 1]] * 6)
    write_batch(tmp_path / "data_batch_5", {b"data": data, b"labels": labels})
    assert_data_file_error(lambda: cifar10(tmp_path), "data_batch_5", fragment, "expected n×3072")
