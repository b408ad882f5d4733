"""The experiment runner: presets, CLI errors, JSON results, checkpoints and resume, ResNet20."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import numpy as np
import pytest
import torch

import ncutils as nc
from ncutils import experiments as ex
from ncutils.__main__ import main


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- every preset, tiny, same code path


@pytest.mark.parametrize("name", ex.PRESET_NAMES)
def test_each_preset_runs_tiny(name, tmp_path):
    preset = ex.get_preset(name, "tiny")
    outputs = ex.run_preset(name, "tiny", out=tmp_path, progress=False, command=f"python -m ncutils run {name}")
    assert len(outputs) == len(preset.variants) * preset.seeds
    runs = ex.load_runs(name, tmp_path)
    assert [(r["variant"], r["seed"]) for r in runs] == [
        (v.label, s) for v in preset.variants for s in range(preset.seeds)
    ]
    for run in runs:
        history = ex.history_of(run)
        assert history.steps[0] == 0 and history.steps[-1] == preset.steps
        assert run["command"] == f"python -m ncutils run {name}"
        assert run["versions"]["torch"] == torch.__version__
        L = len(history.final["layer"])
        assert sorted(map(int, run["class_means"])) == list(range(max(1, L - preset.class_mean_layers + 1), L + 1))
        assert all(len(m) == run["data"]["num_classes"] for m in run["class_means"].values())
        if preset.backbone == "resnet20":  # the backbone's output (layer 0) is measured at the end
            assert set(run["backbone_final"]) == {"nc1", "nc2"}
            assert all(math.isfinite(v) and v >= 0 for v in run["backbone_final"].values())
        else:
            assert run["backbone_final"] is None
    assert not list(tmp_path.rglob("*.pt")), "checkpoints are removed once a variant has finished"


def test_laptop_and_paper_presets_are_consistent():
    for name in ex.PRESET_NAMES:
        paper = ex.get_preset(name, "paper")
        assert paper.data in ("mnist", "cifar10") and paper.seeds == 5
        assert paper.figure
    layerwise = ex.get_preset("mlp_layerwise", "paper")
    assert layerwise.variants[0].weight_decay == 1.8e-3 and layerwise.variants[0].lr == 1e-3  # the v1 Figure 1 caption
    assert [len(v.linear_widths) + 1 for v in ex.get_preset("mlp_head_depth", "laptop").variants] == [1, 2, 3, 4, 5, 6]
    depth = ex.get_preset("mlp_backbone_depth", "paper")
    for v in depth.variants:  # λ = 0.016 / L
        assert v.weight_decay == pytest.approx(0.016 / (len(v.nonlinear_widths) + len(v.linear_widths) + 1))
    for name in ("mlp_layerwise", "mlp_head_depth", "mlp_backbone_depth"):
        assert ex.get_preset(name, "laptop").data in ("mnist_subset", "digits")
    assert ex.estimate_gpu_hours(layerwise, 54_210) > 0


def test_resnet_laptop_preset_runs_on_the_mnist_subset(tmp_path):
    """The laptop ResNet preset, shrunk to two steps: one-channel 28×28 images, half-width ResNet20."""
    laptop = ex.get_preset("resnet_layerwise", "laptop")
    assert (laptop.data, laptop.in_channels, laptop.image_size, laptop.base_width) == ("mnist_subset", 1, 28, 8)
    short = dataclasses.replace(
        laptop, per_class=2, batch_size=10, steps=2, record_every=1, checkpoint_every=1, seeds=1
    )
    (output,) = ex.run_preset(short, out=tmp_path, progress=False)
    history = ex.history_of(output.result)
    assert history.steps == [0, 1, 2] and output.result["data"]["dim"] == 784
    assert history.model["widths"] == [32, 64, 64, 64, 64, 64, 10]  # 4 × base_width features into the head


# ---------------------------------------------------------------- errors


def test_unknown_preset_and_scale():
    with pytest.raises(ex.PresetError, match="unknown preset 'nope'.*mlp_layerwise"):
        ex.get_preset("nope")
    with pytest.raises(ex.PresetError, match="unknown scale 'huge'"):
        ex.get_preset("mlp_layerwise", "huge")
    with pytest.raises(ex.PresetError, match="no 'laptop' scale"):
        ex.get_preset("resnet_head_depth", "laptop")


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    assert main(["run", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["run", "mlp_layerwise", "--scale", "tiny", "--device", "cuda", "--out", str(tmp_path)]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err
    assert (
        main(
            ["run", "mlp_layerwise", "--scale", "paper", "--data-root", str(tmp_path / "none"), "--out", str(tmp_path)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and str(tmp_path / "none") in err
    assert (
        main(["run", "resnet_head_depth", "--scale", "paper", "--data-root", str(tmp_path), "--out", str(tmp_path)])
        == 2
    )
    assert "data_batch_1" in capsys.readouterr().err
    assert main(["run", "mlp_layerwise", "--seeds", "0", "--out", str(tmp_path)]) == 2
    # more threads than cores used to segfault torch; reproduce: python -m ncutils run mlp_layerwise --threads 100000
    assert main(["run", "mlp_layerwise", "--scale", "tiny", "--threads", "100000", "--out", str(tmp_path)]) == 2
    assert "--threads must lie in 1.." in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse: a bad --device value
        main(["run", "mlp_layerwise", "--device", "tpu"])
    assert exit_info.value.code == 2
    assert not list(tmp_path.rglob("*.json"))


def test_cli_list_and_run(tmp_path, capsys):
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ex.PRESET_NAMES)
    assert main(["list", "--scale", "paper"]) == 0
    assert "GPU-hours (estimate" in capsys.readouterr().out
    argv = ["run", "mlp_layerwise", "--scale", "tiny", "--seeds", "1", "--out", str(tmp_path)]
    assert main(argv) == 0
    run = json.loads((tmp_path / "mlp_layerwise" / "main_seed0.json").read_text())
    assert run["command"].startswith("python -m ncutils run mlp_layerwise --scale tiny --seeds 1 --out ")


# ---------------------------------------------------------------- files


def test_json_round_trip(tmp_path):
    (output,) = ex.run_preset(
        dataclasses.replace(ex.get_preset("mlp_layerwise", "tiny"), seeds=1), out=tmp_path, progress=False
    )
    loaded = json.loads(output.path.read_text())
    assert loaded == json.loads(json.dumps(output.result))
    history = ex.history_of(loaded)
    assert isinstance(history, nc.History) and history.metric("nc1", -2).shape == (len(history.steps),)
    means = torch.tensor(loaded["class_means"]["8"], dtype=torch.float64)
    model = output.model
    X = nc.gaussian_mixture(3, 4, 12, seed=0).X
    with torch.no_grad():
        Z = model.features(X)[7].post
    torch.testing.assert_close(means, nc.class_means(Z, nc.gaussian_mixture(3, 4, 12, seed=0).y, 3))
    steps, values = ex.metric_curves([loaded, loaded], "nc1", -2)
    assert values.shape == (2, len(steps))


# ---------------------------------------------------------------- infinite NC2 (class means of rank < K)


def test_infinite_nc2_survives_the_json_file_and_is_never_averaged_away(tmp_path):
    (output,) = ex.run_preset(
        dataclasses.replace(ex.get_preset("mlp_layerwise", "tiny"), seeds=1), out=tmp_path, progress=False
    )
    run = output.result
    run["history"]["reports"][-1]["nc2"][-2] = math.inf  # as the runner stores a rank-deficient step
    run["history"]["reports"][-1]["means_rank"][-2] = 2
    ex.write_json_atomic(tmp_path / "inf.json", run)
    loaded = json.loads((tmp_path / "inf.json").read_text())
    assert loaded["history"]["reports"][-1]["nc2"][-2] == math.inf
    other = json.loads(output.path.read_text())  # the same run, finite everywhere
    finals = ex.final_metric([loaded, other], "nc2", -2)
    assert finals[0] == math.inf and math.isfinite(finals[1])
    _, values = ex.metric_curves([loaded, other], "nc2", -2)
    assert values[0, -1] == math.inf and values[1, -1] == finals[1]


@pytest.mark.parametrize("log", [True, False])
def test_seed_band_is_infinite_where_any_seed_is(log):
    values = [[1.0, 10.0, math.inf], [100.0, 10.0, 2.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value" warning from inf − inf
        centre, low, high = ex.seed_band(values, log=log)
    assert centre[:2] == pytest.approx([10.0, 10.0] if log else [50.5, 10.0])
    assert low[1] == high[1] == pytest.approx(10.0)
    assert centre[2] == math.inf and math.isnan(low[2]) and math.isnan(high[2])


def test_seed_mean_std_never_averages_an_infinite_seed():
    mean, std = ex.seed_mean_std([[1.0, 2.0], [3.0, math.inf]])
    assert mean[0] == pytest.approx(2.0) and std[0] == pytest.approx(1.0)
    assert mean[1] == math.inf and math.isnan(std[1])
    one_mean, one_std = ex.seed_mean_std(np.array([4.0, 6.0]))  # one value per seed
    assert float(one_mean) == pytest.approx(5.0) and float(one_std) == pytest.approx(1.0)


def test_plot_band_marks_infinite_steps_instead_of_dropping_them():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    line = ex.plot_band(ax, [0, 1, 2], [[2.0, 3.0, math.inf], [2.0, 5.0, 4.0]], label="nc2")
    assert math.isnan(line.get_ydata()[2]) and line.get_ydata()[0] == pytest.approx(2.0)
    (marker,) = [other for other in ax.get_lines() if other is not line]
    assert list(marker.get_xdata()) == [2] and marker.get_marker() == "^"
    assert marker.get_color() == line.get_color()
    fig2, ax2 = plt.subplots()
    ex.plot_band(ax2, [0, 1], [[2.0, 3.0], [2.0, 5.0]])
    assert len(ax2.get_lines()) == 1  # all finite: no marker
    plt.close(fig)
    plt.close(fig2)


def test_write_json_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "a" / "run.json"
    ex.write_json_atomic(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    with pytest.raises(TypeError):
        ex.write_json_atomic(path, {"x": object()})  # not serialisable: fails half-way through
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in path.parent.iterdir()] == ["run.json"], "no temporary file is left behind"


# ---------------------------------------------------------------- checkpoint and resume


def _resume_preset(momentum: float, batch_size, seeds: int):
    tiny = ex.get_preset("mlp_layerwise", "tiny")
    return dataclasses.replace(
        tiny,
        steps=40,
        record_every=10,
        checkpoint_every=20,
        seeds=seeds,
        dtype="float64",
        momentum=momentum,
        batch_size=batch_size,
        lr_drop_fraction=0.5,
    )


@pytest.mark.parametrize("momentum, batch_size, seeds", [(0.0, None, 2), (0.9, 5, 1)], ids=["sweep-gd", "sgd-momentum"])
def test_resume_gives_the_uninterrupted_numbers(tmp_path, monkeypatch, momentum, batch_size, seeds):
    preset = _resume_preset(momentum, batch_size, seeds)
    whole = ex.run_preset(preset, out=tmp_path / "whole", progress=False)

    save = ex._save_checkpoint

    def crash_after_first_checkpoint(path, state):
        save(path, state)
        raise KeyboardInterrupt  # the machine goes down right after step 20's checkpoint

    monkeypatch.setattr(ex, "_save_checkpoint", crash_after_first_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        ex.run_preset(preset, out=tmp_path / "split", progress=False)
    assert list((tmp_path / "split").rglob("*.checkpoint.pt"))
    assert not list((tmp_path / "split").rglob("*.json"))
    monkeypatch.setattr(ex, "_save_checkpoint", save)
    resumed = ex.run_preset(preset, out=tmp_path / "split", resume=True, progress=False)

    for a, b in zip(whole, resumed):
        for Wa, Wb in zip(a.model.weights(), b.model.weights()):
            torch.testing.assert_close(Wa, Wb, rtol=0, atol=1e-10)
        ha, hb = ex.history_of(a.result), ex.history_of(b.result)
        assert ha.steps == hb.steps == [0, 10, 20, 30, 40]
        assert ha.loss == pytest.approx(hb.loss, rel=0, abs=1e-10)
        for name in ("nc1", "nc2", "balancedness"):
            assert ha.metric(name, 2) == pytest.approx(hb.metric(name, 2), rel=0, abs=1e-10)
        assert a.result["class_means"].keys() == b.result["class_means"].keys()
        for layer, means in a.result["class_means"].items():
            torch.testing.assert_close(
                torch.tensor(means), torch.tensor(b.result["class_means"][layer]), rtol=0, atol=1e-10
            )

    # resuming a finished preset trains nothing and returns the stored results
    again = ex.run_preset(preset, out=tmp_path / "split", resume=True, progress=False)
    assert [o.model for o in again] == [None] * len(again)
    assert [o.result for o in again] == [json.loads(o.path.read_text()) for o in resumed]


def test_resume_refuses_a_checkpoint_of_another_configuration(tmp_path, monkeypatch):
    preset = _resume_preset(0.0, None, 1)
    save = ex._save_checkpoint

    def crash(path, state):
        save(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(ex, "_save_checkpoint", crash)
    with pytest.raises(KeyboardInterrupt):
        ex.run_preset(preset, out=tmp_path, progress=False)
    monkeypatch.setattr(ex, "_save_checkpoint", save)
    other = dataclasses.replace(preset, variants=(dataclasses.replace(preset.variants[0], lr=0.01),))
    with pytest.raises(ex.PresetError, match="another configuration"):
        ex.run_preset(other, out=tmp_path, resume=True, progress=False)


# ---------------------------------------------------------------- ResNet20


def test_resnet20_shapes_and_head_features():
    model = nc.ResNet20Net(10, nonlinear_widths=[32, 32], linear_widths=[16, 16], seed=0)
    backbone_params = sum(p.numel() for p in model.backbone.parameters())
    assert 0.26e6 < backbone_params < 0.28e6  # ResNet20 has ≈ 0.27 M parameters (He et al. 2016)
    X = torch.randn(6, 3 * 32 * 32, generator=torch.Generator().manual_seed(0))
    assert model(X).shape == (6, 10)
    assert model.backbone_features(X).shape == (6, 64)
    outputs = model.features(X)
    assert [o.post.shape[1] for o in outputs] == [32, 32, 16, 16, 10]
    assert [o.linear for o in outputs] == [False, False, True, True, True]
    assert (model.L1, model.L2, model.widths) == (2, 3, [64, 32, 32, 16, 16, 10])
    assert [tuple(W.shape) for W in model.weights()] == [(32, 64), (32, 32), (16, 32), (16, 16), (10, 16)]
    # the same seed gives the same network; without autograd (the metrics' path) batch norm runs in
    # evaluation mode, in chunks of eval_chunk images, with the same result as one pass
    same = nc.ResNet20Net(10, [32, 32], [16, 16], seed=0)
    chunked = nc.ResNet20Net(10, [32, 32], [16, 16], seed=0, eval_chunk=4)
    with torch.no_grad():
        torch.testing.assert_close(chunked(X), same.features(X)[-1].post)
    torch.testing.assert_close(same(X), outputs[-1].post)
    with pytest.raises(ValueError, match="N × 3072"):
        model(torch.randn(2, 100))


def test_resnet20_trains_and_reports_like_ncnet():
    data = nc.gaussian_mixture(3, 4, 3 * 32 * 32, seed=0)
    model = nc.ResNet20Net(3, nonlinear_widths=[16], linear_widths=[8], seed=0, eval_chunk=5)
    Y = data.one_hot()

    def batch_loss():  # training-mode batch norm, as the optimiser sees it
        return (0.5 * ((model(data.X) - Y) ** 2).sum() / data.num_samples).item()

    before = batch_loss()
    history = nc.train(model, data, nc.TrainConfig(lr=0.01, weight_decay=1e-4, steps=5, record_every=5, progress=False))
    assert batch_loss() < before
    assert history.steps == [0, 5] and model.steps_trained == 5
    report = history.final
    assert report["kind"] == ["nonlinear", "linear", "linear"]
    assert report["negativity"][0] is not None and report["nc3"][1] is not None
    assert report["balancedness"][1] is not None


def test_resnet20_for_mnist_images():
    model = nc.ResNet20Net(10, linear_widths=[8], in_channels=1, image_size=28, seed=0)
    assert model(torch.randn(3, 784)).shape == (3, 10)


class _RunsCode:
    """Unpickling this object would create ``marker``: a stand-in for any code a crafted file runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch notes the crafted file's protocol
def test_a_crafted_checkpoint_runs_no_code(tmp_path):
    """Reproduce: python -m pytest tests/test_experiments.py -k crafted_checkpoint"""
    import pickle

    preset = _resume_preset(0.0, None, 1)
    marker = tmp_path / "code_ran"
    checkpoint = tmp_path / preset.name / f"{preset.variants[0].label}.checkpoint.pt"
    checkpoint.parent.mkdir(parents=True)
    with open(checkpoint, "wb") as f:
        pickle.dump({"fingerprint": _RunsCode(marker)}, f)
    with pytest.raises(ex.PresetError, match="cannot be read") as info:
        ex.run_preset(preset, out=tmp_path, resume=True, progress=False)
    assert str(checkpoint) in str(info.value)
    assert not marker.exists()


def test_a_truncated_checkpoint_names_the_file(tmp_path):
    preset = _resume_preset(0.0, None, 1)
    checkpoint = tmp_path / preset.name / f"{preset.variants[0].label}.checkpoint.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ex.PresetError, match="cannot be read") as info:
        ex.run_preset(preset, out=tmp_path, resume=True, progress=False)
    assert str(checkpoint) in str(info.value)
