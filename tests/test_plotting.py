"""The standard figures: what they draw, and the clear error when there is nothing to draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import ncutils as nc  # noqa: E402


def test_plot_metric_draws_the_loss_and_refuses_an_empty_history():
    """Reproduce: python -m pytest tests/test_plotting.py"""
    data = nc.gaussian_mixture(3, 4, 5, seed=0)
    model = nc.NCNet(5, [8], [6], 3, seed=0)
    history = nc.train(model, data, nc.TrainConfig(lr=0.05, steps=4, record=2, progress=False)).history
    fig, ax = plt.subplots()
    nc.plot_metric(history, "loss", ax=ax)
    assert len(ax.lines) == 1 and list(ax.lines[0].get_xdata()) == history.steps
    nc.plot_metric(history, "nc1", ax=ax)
    assert len(ax.lines) == 1 + len(history.final["layer"])  # one curve per layer
    with pytest.raises(ValueError, match="no recorded steps"):
        nc.plot_metric(nc.History(), "nc1", ax=ax)
    plt.close(fig)
