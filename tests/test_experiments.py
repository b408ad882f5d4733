"""The experiments: every preset at tiny scale, the catalogue's settings, ResNet20, the JSON results
and what the book reads from them (seed bands that never average an infinite NC2), and the files the
runner writes and reads (atomic JSON, checkpoints that run no code).

The runner's failure modes (other configurations, scales, locks, interruptions, divergence) are in
tests/test_runner.py; the command line in tests/test_cli.py.

Reproduce: python -m pytest -n 0 -p no:cacheprovider tests/test_experiments.py -q
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from shared_helpers import RunsCode

import ncutils as nc
from ncutils import files, results
from ncutils.catalogue import PRESET_NAMES, get_preset
from ncutils.files import FileProblem
from ncutils.plotting import plot_band
from ncutils.preset import PresetError, estimate_gpu_hours

pytestmark = pytest.mark.usefixtures("one_thread")  # runs of tiny presets, in tests/conftest.py


def tiny_one_seed():
    return dataclasses.replace(get_preset("mlp_layerwise", "tiny"), seeds=1)


# ---------------------------------------------------------------- every preset, tiny, same code path


# python -m ncutils run NAME --scale tiny --out /tmp/r  (for each NAME of `python -m ncutils list`)
@pytest.mark.parametrize("name", PRESET_NAMES)
def test_each_preset_runs_tiny(name, tmp_path):
    preset = get_preset(name, "tiny")
    outputs = nc.run_preset(name, "tiny", out=tmp_path, progress=False, command=f"python -m ncutils run {name}")
    assert len(outputs) == len(preset.variants) * preset.seeds
    folder = tmp_path / name / "tiny"
    assert {o.path for o in outputs} == set(results.result_files(folder))
    runs = nc.load_runs(name, tmp_path, scale="tiny")
    assert [(r["variant"], r["seed"]) for r in runs] == [
        (v.label, s) for v in preset.variants for s in range(preset.seeds)
    ]
    for run in runs:
        assert run["fingerprint"] == results.fingerprint(preset)
        assert (run["preset"], run["scale"]) == (name, "tiny")
        history = nc.history_of(run)
        assert history.steps[0] == 0 and history.steps[-1] == preset.steps
        assert run["command"] == f"python -m ncutils run {name}"
        assert run["versions"]["torch"] == torch.__version__
        L = len(history.final["layer"])
        assert sorted(map(int, run["class_means"])) == list(range(max(1, L - preset.class_mean_layers + 1), L + 1))
        assert len(run["head_singular_values"]) == min(history.model["widths"][history.model["L1"]], 3)  # K = 3
    for output in outputs:  # the stored singular values are those of the trained head's product
        head = output.model.weights()[output.model.L1 :]
        expected = torch.linalg.svdvals(nc.head_product(head)).tolist()
        assert output.result["head_singular_values"] == pytest.approx(expected, rel=1e-12)
        assert all(len(m) == run["data"]["num_classes"] for m in run["class_means"].values())
        if preset.backbone == "resnet20":  # the backbone's output (layer 0) is measured at the end
            assert set(run["backbone_final"]) == {"nc1", "nc2"}
            assert all(math.isfinite(v) and v >= 0 for v in run["backbone_final"].values())
        else:
            assert run["backbone_final"] is None
    assert not list(tmp_path.rglob("*.pt")), "checkpoints are removed once a variant has finished"
    assert not (folder / ".lock").exists(), "the lock is released after the run"


# python -c "import ncutils as nc; print(nc.get_preset('mlp_layerwise', 'paper'))"
def test_laptop_and_paper_presets_are_consistent():
    for name in PRESET_NAMES:
        paper = get_preset(name, "paper")
        assert paper.data in ("mnist", "cifar10") and paper.seeds == 5
        assert paper.figure and paper.scale == "paper" and paper.name == name
        assert get_preset(name, "tiny").data in ("gaussian", "gaussian_images")
    layerwise = get_preset("mlp_layerwise", "paper")
    assert layerwise.variants[0].weight_decay == 1.8e-3 and layerwise.variants[0].lr == 1e-3  # the v1 Figure 1 caption
    assert [len(v.linear_widths) + 1 for v in get_preset("mlp_head_depth", "laptop").variants] == [1, 2, 3, 4, 5, 6]
    depth = get_preset("mlp_backbone_depth", "paper")
    for v in depth.variants:  # λ = 0.016 / L
        assert v.weight_decay == pytest.approx(0.016 / (len(v.nonlinear_widths) + len(v.linear_widths) + 1))
    for name in ("mlp_layerwise", "mlp_head_depth", "mlp_backbone_depth"):
        assert get_preset(name, "laptop").data in ("mnist_subset", "digits")
    assert estimate_gpu_hours(layerwise, 54_210) > 0
    names = [row[0] for row in nc.list_presets()]
    assert names == list(PRESET_NAMES)
    # the scales are different configurations, so their results never share a fingerprint or a folder
    scales = [get_preset("mlp_layerwise", s) for s in ("tiny", "laptop", "paper")]
    assert len({results.fingerprint(p) for p in scales}) == 3
    assert len({results.results_folder("out", p) for p in scales}) == 3


# python -c "import ncutils as nc; nc.get_preset('nope')"
def test_unknown_preset_and_scale():
    with pytest.raises(PresetError, match="unknown preset 'nope'.*mlp_layerwise"):
        get_preset("nope")
    with pytest.raises(PresetError, match="unknown scale 'huge'"):
        get_preset("mlp_layerwise", "huge")
    with pytest.raises(PresetError, match="no 'laptop' scale"):
        get_preset("resnet_head_depth", "laptop")
    with pytest.raises(PresetError, match="seeds must be a positive int"):
        nc.run_preset("mlp_layerwise", "tiny", seeds=0, progress=False)
    with pytest.raises(ValueError, match="multiples of record_every"):
        dataclasses.replace(get_preset("mlp_layerwise", "tiny"), steps=25)


# ---------------------------------------------------------------- ResNet20


# python -c "import ncutils as nc; print(nc.get_preset('resnet_layerwise', 'laptop'))"
def test_resnet_laptop_preset_runs_on_the_mnist_subset(tmp_path):
    """The laptop ResNet preset, shrunk to two steps: one-channel 28×28 images, half-width ResNet20."""
    laptop = get_preset("resnet_layerwise", "laptop")
    assert (laptop.data, laptop.in_channels, laptop.image_size, laptop.base_width) == ("mnist_subset", 1, 28, 8)
    short = dataclasses.replace(
        laptop, per_class=2, batch_size=10, steps=2, record_every=1, checkpoint_every=1, seeds=1
    )
    (output,) = nc.run_preset(short, out=tmp_path, progress=False)
    assert output.path == tmp_path / "resnet_layerwise" / "laptop" / "main_seed0.json"
    history = nc.history_of(output.result)
    assert history.steps == [0, 1, 2] and output.result["data"]["dim"] == 784
    assert history.model["widths"] == [32, 64, 64, 64, 64, 64, 10]  # 4 × base_width features into the head


# python -c "import ncutils as nc; print(nc.ResNet20Net(10, [32, 32], [16, 16]))"
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


# python -c "import ncutils as nc; m = nc.ResNet20Net(3, [16], [8]); nc.train(m, nc.gaussian_mixture(3, 4, 3072), nc.TrainConfig(steps=5))"
def test_resnet20_trains_and_reports_like_ncnet():
    data = nc.gaussian_mixture(3, 4, 3 * 32 * 32, seed=0)
    model = nc.ResNet20Net(3, nonlinear_widths=[16], linear_widths=[8], seed=0, eval_chunk=5)
    Y = data.one_hot()

    def batch_loss():  # training-mode batch norm, as the optimiser sees it
        return (0.5 * ((model(data.X) - Y) ** 2).sum() / data.num_samples).item()

    before = batch_loss()
    state = nc.train(model, data, nc.TrainConfig(lr=0.01, weight_decay=1e-4, steps=5, record=5, progress=False))
    assert batch_loss() < before
    assert isinstance(state, nc.TrainState) and state.step == 5 and state.history.steps == [0, 5]
    report = state.history.final
    assert report["kind"] == ["nonlinear", "linear", "linear"]
    assert report["negativity"][0] is not None and report["nc3"][1] is not None
    assert report["balancedness"][1] is not None


# python -c "import ncutils as nc, torch; print(nc.ResNet20Net(10, linear_widths=[8], in_channels=1, image_size=28)(torch.randn(3, 784)).shape)"
def test_resnet20_for_mnist_images():
    model = nc.ResNet20Net(10, linear_widths=[8], in_channels=1, image_size=28, seed=0)
    assert model(torch.randn(3, 784)).shape == (3, 10)


# ---------------------------------------------------------------- JSON results


# python -m ncutils run mlp_layerwise --scale tiny --seeds 1 --out /tmp/r && cat /tmp/r/mlp_layerwise/tiny/main_seed0.json
def test_json_round_trip(tmp_path):
    (output,) = nc.run_preset(tiny_one_seed(), out=tmp_path, progress=False)
    loaded = json.loads(output.path.read_text())
    assert loaded == json.loads(json.dumps(output.result))
    assert files.read_json(output.path) == loaded
    history = nc.history_of(loaded)
    assert isinstance(history, nc.History) and history.metric("nc1", -2).shape == (len(history.steps),)
    assert nc.History.from_dict(history.to_dict()) == history
    means = torch.tensor(loaded["class_means"]["8"], dtype=torch.float64)
    data = nc.gaussian_mixture(3, 4, 12, seed=0)
    with torch.no_grad():
        Z = output.model.features(data.X)[7].post
    torch.testing.assert_close(means, nc.class_means(Z, data.y, 3))
    steps, values = nc.metric_curves([loaded, loaded], "nc1", -2)
    assert values.shape == (2, len(steps))
    assert list(nc.by_variant([loaded, loaded])) == ["main"]


# ---------------------------------------------------------------- infinite NC2 (class means of rank < K)


# python -m pytest -n 0 tests/test_experiments.py -k infinite_nc2
def test_infinite_nc2_survives_the_json_file_and_is_never_averaged_away(tmp_path):
    (output,) = nc.run_preset(tiny_one_seed(), out=tmp_path, progress=False)
    run = output.result
    run["history"]["reports"][-1]["nc2"][-2] = math.inf  # as the runner stores a rank-deficient step
    run["history"]["reports"][-1]["means_rank"][-2] = 2
    files.write_json_atomic(tmp_path / "inf.json", run)
    loaded = json.loads((tmp_path / "inf.json").read_text())
    assert loaded["history"]["reports"][-1]["nc2"][-2] == math.inf
    other = json.loads(output.path.read_text())  # the same run, finite everywhere
    finals = nc.final_metric([loaded, other], "nc2", -2)
    assert finals[0] == math.inf and math.isfinite(finals[1])
    _, values = nc.metric_curves([loaded, other], "nc2", -2)
    assert values[0, -1] == math.inf and values[1, -1] == finals[1]
    mean, std = nc.seed_mean_std(values[:, -1])
    assert mean == math.inf and math.isnan(std)


# python -c "import ncutils as nc; print(nc.seed_band([[1.0, float('inf')], [100.0, 2.0]]))"
@pytest.mark.parametrize("log", [True, False])
def test_seed_band_is_infinite_where_any_seed_is(log):
    values = [[1.0, 10.0, math.inf], [100.0, 10.0, 2.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value" warning from inf − inf
        centre, low, high = nc.seed_band(values, log=log)
    assert centre[:2] == pytest.approx([10.0, 10.0] if log else [50.5, 10.0])
    assert low[1] == high[1] == pytest.approx(10.0)
    assert centre[2] == math.inf and math.isnan(low[2]) and math.isnan(high[2])


# python -c "import ncutils as nc; print(nc.seed_mean_std([[1.0, 2.0], [3.0, float('inf')]]))"
def test_seed_mean_std_never_averages_an_infinite_seed():
    mean, std = nc.seed_mean_std([[1.0, 2.0], [3.0, math.inf]])
    assert mean[0] == pytest.approx(2.0) and std[0] == pytest.approx(1.0)
    assert mean[1] == math.inf and math.isnan(std[1])
    one_mean, one_std = nc.seed_mean_std(np.array([4.0, 6.0]))  # one value per seed
    assert float(one_mean) == pytest.approx(5.0) and float(one_std) == pytest.approx(1.0)


# python -m pytest -n 0 tests/test_experiments.py -k plot_band
def test_plot_band_marks_infinite_steps_instead_of_dropping_them():
    import matplotlib.pyplot as plt

    assert nc.plot_band is plot_band
    fig, ax = plt.subplots()
    line = plot_band(ax, [0, 1, 2], [[2.0, 3.0, math.inf], [2.0, 5.0, 4.0]], label="nc2")
    assert math.isnan(line.get_ydata()[2]) and line.get_ydata()[0] == pytest.approx(2.0)
    (marker,) = [other for other in ax.get_lines() if other is not line]
    assert list(marker.get_xdata()) == [2] and marker.get_marker() == "^"
    assert marker.get_color() == line.get_color()
    fig2, ax2 = plt.subplots()
    plot_band(ax2, [0, 1], [[2.0, 3.0], [2.0, 5.0]])
    assert len(ax2.get_lines()) == 1  # all finite: no marker
    plt.close(fig)
    plt.close(fig2)


# ---------------------------------------------------------------- files: atomic writes, safe reads


# python -c "from ncutils.files import write_json_atomic as w; w('/tmp/a.json', {'x': 1}); w('/tmp/a.json', {'x': object()})"
def test_write_json_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "a" / "run.json"
    files.write_json_atomic(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    with pytest.raises(TypeError):
        files.write_json_atomic(path, {"x": object()})  # not serialisable: fails half-way through
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in path.parent.iterdir()] == ["run.json"], "no temporary file is left behind"


# python -c "from ncutils.files import save_checkpoint as s; s('/tmp/c.pt', {'fingerprint': 1}); s('/tmp/c.pt', {'x': lambda: 0})"
def test_save_checkpoint_keeps_the_old_checkpoint_when_saving_fails(tmp_path):
    path = tmp_path / "main.checkpoint.pt"
    files.save_checkpoint(path, {"fingerprint": "a", "w": torch.ones(2)})
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a lambda cannot be pickled: fails half-way
        files.save_checkpoint(path, {"fingerprint": "b", "f": lambda: 0})
    assert files.load_checkpoint(path)["fingerprint"] == "a"
    assert [p.name for p in tmp_path.iterdir()] == ["main.checkpoint.pt"]


def _checkpoint_path(tmp_path, preset):
    path = results.results_folder(tmp_path, preset) / f"{preset.variants[0].label}.checkpoint.pt"
    path.parent.mkdir(parents=True)
    return path


# put a pickle that runs `touch MARKER` at OUT/mlp_layerwise/tiny/main.checkpoint.pt, then
# python -m ncutils run mlp_layerwise --scale tiny --out OUT --resume
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch notes the crafted file's protocol
def test_a_crafted_checkpoint_runs_no_code(tmp_path):
    preset = tiny_one_seed()
    marker = tmp_path / "code_ran"
    checkpoint = _checkpoint_path(tmp_path, preset)
    with open(checkpoint, "wb") as f:
        pickle.dump({"fingerprint": RunsCode(marker)}, f)
    with pytest.raises(FileProblem, match="cannot be read") as info:
        nc.run_preset(preset, out=tmp_path, resume=True, progress=False)
    assert str(checkpoint) in str(info.value)
    with pytest.raises(FileProblem, match="cannot be read"):
        files.load_checkpoint(checkpoint)
    assert not marker.exists()
    assert not (checkpoint.parent / ".lock").exists()


# printf 'PK\x03\x04 truncated' > OUT/mlp_layerwise/tiny/main.checkpoint.pt
# python -m ncutils run mlp_layerwise --scale tiny --out OUT --resume
def test_a_truncated_checkpoint_names_the_file(tmp_path):
    preset = tiny_one_seed()
    checkpoint = _checkpoint_path(tmp_path, preset)
    checkpoint.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(FileProblem, match="cannot be read") as info:
        nc.run_preset(preset, out=tmp_path, resume=True, progress=False)
    assert str(checkpoint) in str(info.value)
    torch.save({"weights": torch.ones(1)}, checkpoint)  # readable, but not ours
    with pytest.raises(FileProblem, match="not an ncutils checkpoint") as info:
        nc.run_preset(preset, out=tmp_path, resume=True, progress=False)
    assert str(checkpoint) in str(info.value)
