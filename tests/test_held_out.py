"""Held-out splits of the data sets, and the test-set columns of the collapse report."""

import numpy as np
import pytest
import torch

import ncutils as nc


def test_a_gaussian_test_set_has_the_same_means_and_fresh_noise():
    train = nc.gaussian_mixture(3, 200, 5, noise=0.5, seed=4, dtype=torch.float64)
    test = nc.gaussian_mixture(3, 200, 5, noise=0.5, seed=4, dtype=torch.float64, split="test")
    assert test.name == "gaussian_mixture (test)" and test.num_samples == train.num_samples
    train_means = nc.class_means(train.X, train.y, 3)
    test_means = nc.class_means(test.X, test.y, 3)
    # the same mixture: class means agree to the sampling error 0.5/sqrt(5 * 200) ≈ 0.016 per coordinate
    assert float((train_means - test_means).abs().max()) < 0.1
    # fresh noise: no sample is repeated
    assert float(torch.cdist(train.X, test.X).min()) > 1e-6
    other_seed = nc.gaussian_mixture(3, 200, 5, noise=0.5, seed=5, dtype=torch.float64)
    assert float((nc.class_means(other_seed.X, other_seed.y, 3) - train_means).abs().max()) > 0.1


def test_a_test_set_of_real_data_holds_the_samples_the_training_subset_left_out():
    train = nc.digits(per_class=50, seed=3, dtype=torch.float64)
    test = nc.digits(per_class=50, seed=3, dtype=torch.float64, split="test")
    assert (train.per_class, test.per_class) == (50, 124)  # the smallest class has 174 images
    assert float(torch.cdist(train.X, test.X).min()) > 1e-9  # disjoint (no image in both)
    # standardised with the training subset's statistics: its features have mean 0, the test set's nearly
    assert float(train.X.mean(0).abs().max()) < 1e-12
    assert 0 < float(test.X.mean(0).abs().max()) < 0.5
    assert nc.digits(per_class=50, seed=3) is not None  # the training path is unchanged by the option
    assert torch.equal(nc.digits(per_class=50, seed=3).X, nc.digits(per_class=50, seed=3, split="train").X)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nc.digits(split="validation"), "split must be 'train' or 'test'"),
        (lambda: nc.gaussian_mixture(2, 5, 3, split=None), "split must be 'train' or 'test'"),
        (lambda: nc.digits(per_class=174, split="test"), "leaves 0 held-out samples"),
    ],
)
def test_a_bad_split_is_one_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.fixture(scope="module")
def trained():
    data = nc.gaussian_mixture(4, 10, 20, noise=3.0, seed=0, dtype=torch.float64)
    test = nc.gaussian_mixture(4, 50, 20, noise=3.0, seed=0, dtype=torch.float64, split="test")
    model = nc.NCNet(20, [64, 32], [16], 4, seed=0, dtype=torch.float64)
    nc.train(model, data, nc.TrainConfig(lr=0.2, weight_decay=3e-3, steps=600, record=0, progress=False))
    return model, data, test


def test_the_report_gives_test_set_collapse_and_both_accuracies(trained):
    model, data, test = trained
    report = nc.collapse_report(model, data, test)
    plain = nc.collapse_report(model, data)
    assert set(report) - set(plain) == {"accuracy", "test_accuracy", "test_nc1", "test_nc2"}
    layers = len(plain["layer"])
    assert all(len(values) == layers for values in report.values())
    # the test columns are the training metrics computed on the test set: a naive float64 reference
    for ell, out in enumerate(model.features(test.X)):
        Z = out.post.detach().numpy()
        y = test.y.numpy()
        means = np.stack([Z[y == k].mean(0) for k in range(4)])
        centred = means - Z.mean(0)
        within = sum(np.outer(z - means[k], z - means[k]) for z, k in zip(Z, y)) / len(y)
        between = centred.T @ centred / 4
        naive_nc1 = np.trace(within) / np.trace(between)  # NC1 = tr Σ_W / tr Σ_B
        assert report["test_nc1"][ell] == pytest.approx(naive_nc1, rel=1e-6)
    output = model(test.X).argmax(dim=1)
    assert report["test_accuracy"][-1] == pytest.approx(float((output == test.y).double().mean()), abs=1e-15)
    assert report["accuracy"][-1] == pytest.approx(
        float((model(data.X).argmax(dim=1) == data.y).double().mean()), abs=1e-15
    )
    assert report["accuracy"][:-1] == [None] * (layers - 1)


def test_the_report_refuses_a_test_set_of_other_classes_or_inputs(trained):
    model, data, _ = trained
    with pytest.raises(ValueError, match="test must have the training set's classes and inputs"):
        nc.collapse_report(model, data, nc.gaussian_mixture(3, 5, 20, dtype=torch.float64))
    with pytest.raises(TypeError, match="test must be an ncutils Dataset"):
        nc.collapse_report(model, data, data.X)
