"""The runner's failure modes: results of another configuration, other scales, mixed or damaged result
files, seeds left from an earlier run, locks, unusable folders, Ctrl-C / SIGTERM / crashes and resume,
divergence, and checkpoints of another configuration. Each test says how to reproduce its case.

Everything runs for real on tiny presets (a few steps on a Gaussian mixture) in temporary folders.
The command-line side of the same failures is in tests/test_cli.py.

Reproduce: python -m pytest -n 0 -p no:cacheprovider tests/test_runner.py -q
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
import torch

import ncutils as nc
from ncutils import files, results
from ncutils.catalogue import get_preset
from ncutils.files import FileProblem, FolderLock
from ncutils.history import TrainingDiverged, TrainingInterrupted

pytestmark = pytest.mark.usefixtures("one_thread")  # runs of tiny presets, in tests/conftest.py


def tiny(name="mlp_layerwise"):
    return get_preset(name, "tiny")


def contents(folder):
    """The names in a folder, hidden ones (the lock) included."""
    return sorted(p.name for p in folder.iterdir())


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def resumable(path: str):
    """A tiny preset of 40 steps, recorded every 5 and checkpointed every 20: a stop at step 25 falls
    between two checkpoints.

    ``stacked``: full batch, momentum 0, two seeds trained as one batched network;
    ``plain``: minibatches of 4 with momentum 0.9, one seed after the other.
    """
    base = dataclasses.replace(tiny(), steps=40, record_every=5, checkpoint_every=20)
    return base if path == "stacked" else dataclasses.replace(base, batch_size=4, momentum=0.9)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """``uninterrupted(path)``: the runs of ``resumable(path)`` that nothing stopped (computed once)."""
    done = {}

    def get(path):
        if path not in done:
            done[path] = nc.run_preset(resumable(path), out=tmp_path_factory.mktemp(path), progress=False)
        return done[path]

    return get


def as_stored(obj) -> str:
    """``obj`` as its JSON text: tuples and lists alike, NaN equal to NaN, every float to the last bit."""
    return json.dumps(obj, sort_keys=True)


def assert_same_runs(expected, got):
    """Exactly the same numbers: histories, class means and final weights."""
    assert [(o.result["variant"], o.result["seed"]) for o in expected] == [
        (o.result["variant"], o.result["seed"]) for o in got
    ]
    for a, b in zip(expected, got):
        assert a.result["fingerprint"] == b.result["fingerprint"]
        assert as_stored(a.result["history"]) == as_stored(b.result["history"])
        assert as_stored(a.result["class_means"]) == as_stored(b.result["class_means"])
        if b.model is not None:  # None: a finished run read back from its file
            for (name, wa), (_, wb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
                assert torch.equal(wa, wb), name


# ---------------------------------------------------------------- 1. results of another configuration


# python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r, then run the same preset with
# steps=40 into /tmp/r: it used to overwrite the files one by one, leaving a mix
def test_results_of_another_configuration_are_refused_unless_overwrite(tmp_path):
    nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, progress=False)
    folder = tmp_path / "mlp_layerwise" / "tiny"
    before = snapshot(folder)
    longer = dataclasses.replace(tiny(), steps=40)
    with pytest.raises(FileProblem) as info:
        nc.run_preset(longer, out=tmp_path, progress=False)
    message = str(info.value)
    assert str(folder) in message and "steps: 20 there, 40 here" in message and "--overwrite" in message
    assert "\n" not in message
    assert snapshot(folder) == before, "nothing is written, nothing is removed"

    outputs = nc.run_preset(longer, out=tmp_path, overwrite=True, progress=False)
    assert contents(folder) == ["main_seed0.json", "main_seed1.json"]
    runs = nc.load_runs("mlp_layerwise", tmp_path, scale="tiny")
    assert {r["fingerprint"] for r in runs} == {results.fingerprint(longer)}
    assert [nc.history_of(r).steps[-1] for r in runs] == [40, 40]
    assert [as_stored(o.result) for o in outputs] == [as_stored(r) for r in runs]


# python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r, edit "fingerprint" in
# /tmp/r/mlp_layerwise/tiny/main_seed0.json, run again
def test_a_result_with_another_fingerprint_is_refused_and_overwrite_replaces_it(tmp_path):
    (first, _) = nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, progress=False)
    result = json.loads(first.path.read_text())
    result["fingerprint"] = "0" * 16
    first.path.write_text(json.dumps(result))
    with pytest.raises(FileProblem, match="another configuration") as info:
        nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, progress=False)
    assert str(first.path.parent) in str(info.value) and first.path.name in str(info.value)
    nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, overwrite=True, progress=False)
    assert json.loads(first.path.read_text())["fingerprint"] == results.fingerprint(tiny())


# printf '{"fingerprint": ' > /tmp/r/mlp_layerwise/tiny/main_seed0.json; python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r
def test_a_damaged_result_in_the_folder_is_named_and_overwrite_replaces_it(tmp_path):
    (first, _) = nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, progress=False)
    first.path.write_text('{"fingerprint": ')
    with pytest.raises(FileProblem, match="damaged") as info:
        nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, progress=False)
    assert str(first.path) in str(info.value)
    nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, overwrite=True, progress=False)
    assert len(nc.load_runs("mlp_layerwise", tmp_path, scale="tiny")) == 2


# ---------------------------------------------------------------- 2. scales never overwrite each other


# python -m ncutils run mlp_layerwise --scale laptop --out /tmp/r; python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r
# (both used to write /tmp/r/mlp_layerwise/main_seed0.json: the test run replaced the book's results)
def test_a_tiny_run_leaves_the_results_of_other_scales_intact(tmp_path):
    laptop = dataclasses.replace(
        get_preset("mlp_layerwise", "laptop"), per_class=2, steps=2, record_every=1, checkpoint_every=1, seeds=1
    )
    nc.run_preset(laptop, out=tmp_path, progress=False)
    legacy = tmp_path / "mlp_layerwise" / "main_seed0.json"  # where the old runner wrote, whatever the scale
    legacy.write_text('{"old": "layout"}')
    laptop_folder = tmp_path / "mlp_layerwise" / "laptop"
    before = snapshot(laptop_folder)

    nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, progress=False)
    nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, overwrite=True, progress=False)  # even with overwrite

    assert snapshot(laptop_folder) == before
    assert legacy.read_text() == '{"old": "layout"}'
    (laptop_run,) = nc.load_runs("mlp_layerwise", tmp_path, scale="laptop")
    assert laptop_run["scale"] == "laptop" and laptop_run["fingerprint"] == results.fingerprint(laptop)
    tiny_runs = nc.load_runs("mlp_layerwise", tmp_path, scale="tiny")
    assert [r["scale"] for r in tiny_runs] == ["tiny", "tiny"]


# ---------------------------------------------------------------- 3. load_runs never mixes


# copy a result of `steps=40` next to those of the tiny preset, then nc.load_runs("mlp_layerwise", "/tmp/r", "tiny")
def test_load_runs_refuses_results_of_two_configurations(tmp_path):
    nc.run_preset("mlp_layerwise", "tiny", out=tmp_path / "a", progress=False)
    (_, other) = nc.run_preset(dataclasses.replace(tiny(), steps=40), out=tmp_path / "b", progress=False)
    folder = tmp_path / "a" / "mlp_layerwise" / "tiny"
    (folder / "main_seed1.json").write_bytes(other.path.read_bytes())
    with pytest.raises(FileProblem, match="different configurations") as info:
        nc.load_runs("mlp_layerwise", tmp_path / "a", scale="tiny")
    message = str(info.value)
    assert "main_seed0.json" in message and "main_seed1.json" in message and str(folder) in message


# truncate /tmp/r/mlp_layerwise/tiny/main_seed1.json, then nc.load_runs("mlp_layerwise", "/tmp/r", "tiny")
def test_load_runs_names_a_truncated_or_foreign_result_file(tmp_path):
    (_, second) = nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, progress=False)
    text = second.path.read_text()
    second.path.write_text(text[: len(text) // 2])
    with pytest.raises(FileProblem, match="damaged") as info:
        nc.load_runs("mlp_layerwise", tmp_path, scale="tiny")
    assert str(second.path) in str(info.value) and "--overwrite" in str(info.value)
    second.path.write_text('{"history": {}}')  # a JSON object, but no fingerprint: not a result of this version
    with pytest.raises(FileProblem, match="not written by this version") as info:
        nc.load_runs("mlp_layerwise", tmp_path, scale="tiny")
    assert str(second.path) in str(info.value)


# python -c "import ncutils as nc; nc.load_runs('mlp_layerwise', '/tmp/nothing', 'tiny')"
def test_load_runs_of_a_missing_folder_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        nc.load_runs("mlp_layerwise", tmp_path / "nothing", scale="tiny")
    assert f"python -m ncutils run mlp_layerwise --scale tiny --out {tmp_path / 'nothing'}" in str(info.value)


# ---------------------------------------------------------------- 4. seeds left by an earlier run


# python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r; python -m ncutils run mlp_layerwise --scale tiny --seeds 1 --out /tmp/r
def test_stale_seeds_are_found(tmp_path):
    preset = tiny()
    nc.run_preset(preset, out=tmp_path, progress=False)
    (output,) = nc.run_preset(preset, seeds=1, out=tmp_path, progress=False)
    folder = results.results_folder(tmp_path, preset)
    assert output.path == folder / "main_seed0.json"
    assert results.stale_seeds(folder, preset, [0]) == {"main": [1]}
    assert results.stale_seeds(folder, preset, [0, 1]) == {}
    assert [r["seed"] for r in nc.load_runs("mlp_layerwise", tmp_path, scale="tiny")] == [0, 1]


# ---------------------------------------------------------------- 5. one run per folder


# echo "$(hostname) <pid of a running process>" > /tmp/r/mlp_layerwise/tiny/.lock; python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r
def test_a_folder_locked_by_a_live_process_is_refused(tmp_path):
    folder = results.results_folder(tmp_path, tiny())
    folder.mkdir(parents=True)
    lock = folder / ".lock"
    holder = f"{socket.gethostname()} {os.getpid()}"  # this test process: alive
    lock.write_text(holder)
    with pytest.raises(FileProblem, match="another run") as info:
        nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, progress=False)
    assert str(lock) in str(info.value) and holder in str(info.value)
    assert contents(folder) == [".lock"] and lock.read_text() == holder, "the other run's lock is left alone"
    with pytest.raises(FileProblem, match="another run"):  # the same through the lock itself
        with FolderLock(folder):
            pass


# echo "$(hostname) <pid of a finished process>" > /tmp/r/mlp_layerwise/tiny/.lock; python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r
def test_a_lock_left_by_a_dead_process_is_taken_over_and_a_run_leaves_no_lock(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    folder = results.results_folder(tmp_path, tiny())
    folder.mkdir(parents=True)
    (folder / ".lock").write_text(f"{socket.gethostname()} {dead}")
    nc.run_preset("mlp_layerwise", "tiny", out=tmp_path, progress=False)
    assert contents(folder) == ["main_seed0.json", "main_seed1.json"]
    with FolderLock(folder) as held:  # while held, the lock names this process
        assert held.path.read_text() == f"{socket.gethostname()} {os.getpid()}"
    assert contents(folder) == ["main_seed0.json", "main_seed1.json"]


# ---------------------------------------------------------------- 6. unusable --out, found before any data is loaded


# touch /tmp/f; python -m ncutils run mlp_layerwise --scale paper --data-root /nonexistent --out /tmp/f
def test_an_out_that_is_a_file_is_refused_before_loading_data(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for scale in ("tiny", "paper"):  # paper: its MNIST files are missing too, but --out is reported
        with pytest.raises(FileProblem, match="choose another --out") as info:
            nc.run_preset("mlp_layerwise", scale, out=afile, data_root=tmp_path / "none", progress=False)
        assert str(afile) in str(info.value) and "MNIST" not in str(info.value)
    (tmp_path / "out" / "mlp_layerwise").mkdir(parents=True)
    (tmp_path / "out" / "mlp_layerwise" / "tiny").write_text("a file where the scale's folder goes")
    with pytest.raises(FileProblem, match="is not a folder"):
        nc.run_preset("mlp_layerwise", "tiny", out=tmp_path / "out", progress=False)
    assert afile.read_text() == "not a folder"


# mkdir /tmp/ro; chmod 500 /tmp/ro; python -m ncutils run mlp_layerwise --scale paper --data-root /nonexistent --out /tmp/ro
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_out_is_refused_before_loading_data(tmp_path):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        for scale in ("tiny", "paper"):
            with pytest.raises(FileProblem, match="cannot write to") as info:
                nc.run_preset("mlp_layerwise", scale, out=readonly, data_root=tmp_path / "none", progress=False)
            assert str(readonly) in str(info.value) and "MNIST" not in str(info.value)
    finally:
        readonly.chmod(0o700)


# ---------------------------------------------------------------- 7. Ctrl-C, SIGTERM, crashes and resume


def stop_once_at(step, action):
    """An ``on_record`` that calls ``action()`` the first time a run records ``step``."""
    done = []

    def on_record(model, state):
        if state.step == step and not done:
            done.append(step)
            action()

    return on_record


def checkpoint_of(out, preset):
    return results.results_folder(out, preset) / f"{preset.variants[0].label}.checkpoint.pt"


# python -m ncutils run mlp_layerwise --scale laptop --out /tmp/r, Ctrl-C (or kill -TERM) between two
# checkpoints, then the same command with --resume: the steps since the last checkpoint used to be lost
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("path", ["stacked", "plain"])
def test_a_signal_saves_the_state_of_that_step_and_resume_ends_as_if_uninterrupted(
    tmp_path, uninterrupted, path, signum, interruptible
):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("the signal would end this process: train() catches signals in the main thread only")
    preset = resumable(path)
    assert preset.checkpoint_every == 20 and 25 % preset.record_every == 0 and 25 % preset.checkpoint_every
    stop = stop_once_at(25, lambda: os.kill(os.getpid(), signum))
    with pytest.raises(TrainingInterrupted, match=f"{signal.Signals(signum).name} at step") as info:
        nc.run_preset(preset, out=tmp_path, progress=False, on_record=stop)
    assert info.value.states[0].step == 25
    checkpoint = checkpoint_of(tmp_path, preset)
    assert contents(checkpoint.parent) == [checkpoint.name], "a checkpoint, no results and no lock"
    saved = files.load_checkpoint(checkpoint)
    assert saved["fingerprint"] == {"preset": results.fingerprint(preset), "variant": "main", "seeds": [0, 1]}
    steps = [state["step"] for state in saved["states"]]
    assert steps == ([25, 25] if path == "stacked" else [25, 0])  # plain: seed 1 had not started
    assert saved["states"][0]["history"]["steps"][-1] == 25
    if path == "plain":
        assert saved["states"][0]["momentum"] is not None

    resumed = nc.run_preset(preset, out=tmp_path, resume=True, progress=False)
    expected = uninterrupted(path)
    assert [o.result["vectorised_over_seeds"] for o in expected] == [path == "stacked"] * 2
    assert_same_runs(expected, resumed)
    assert contents(checkpoint.parent) == ["main_seed0.json", "main_seed1.json"], "the checkpoint is removed"

    again = nc.run_preset(preset, out=tmp_path, resume=True, progress=False)  # finished: nothing is trained
    assert [o.model for o in again] == [None, None]
    assert_same_runs(expected, again)


def crash():
    raise RuntimeError("crash")


# a run killed (power cut, OOM) between checkpoints: the last checkpoint must survive, and resume from it
@pytest.mark.parametrize("path", ["stacked", "plain"])
def test_a_crash_keeps_the_last_checkpoint_and_resume_ends_as_if_uninterrupted(tmp_path, uninterrupted, path):
    preset = resumable(path)
    with pytest.raises(RuntimeError, match="crash"):
        nc.run_preset(preset, out=tmp_path, progress=False, on_record=stop_once_at(25, crash))
    checkpoint = checkpoint_of(tmp_path, preset)
    assert contents(checkpoint.parent) == [checkpoint.name]
    steps = [state["step"] for state in files.load_checkpoint(checkpoint)["states"]]
    assert steps == ([20, 20] if path == "stacked" else [20, 0])
    resumed = nc.run_preset(preset, out=tmp_path, resume=True, progress=False)
    assert_same_runs(uninterrupted(path), resumed)
    assert not checkpoint.exists()


# ---------------------------------------------------------------- 8. divergence


# a preset whose second variant has lr=1e6 (e.g. edit mlp_head_depth's tiny lr in ncutils/catalogue.py), then
# python -m ncutils run mlp_head_depth --scale tiny --out /tmp/r: the partial history used to be lost, and
# the message named neither the variant nor the seed
@pytest.mark.parametrize("path", ["stacked", "plain"])
def test_a_diverged_run_names_variant_seed_and_keeps_its_partial_history(tmp_path, path):
    base = get_preset("mlp_head_depth", "tiny")
    base = dataclasses.replace(base, record_every=1, checkpoint_every=10)
    if path == "plain":
        base = dataclasses.replace(base, batch_size=4)
    good, bad, after = base.variants
    preset = dataclasses.replace(base, variants=(good, dataclasses.replace(bad, lr=1e6), after))
    with pytest.raises(TrainingDiverged) as info:
        nc.run_preset(preset, out=tmp_path, progress=False)
    folder = results.results_folder(tmp_path, preset)
    diverged = folder / f"{bad.label}_seed0.diverged.json"
    message = str(info.value)
    assert f"variant {bad.label}, seed 0" in message and str(diverged) in message
    assert contents(folder) == [f"{good.label}_seed0.json", f"{good.label}_seed1.json", diverged.name]
    partial = json.loads(diverged.read_text())
    assert (partial["variant"], partial["seed"], partial["fingerprint"]) == (bad.label, 0, results.fingerprint(preset))
    history = nc.History.from_dict(partial["history"])
    assert history.steps and history.steps[0] == 0 and history.steps[-1] < preset.steps
    assert history.steps == info.value.history.steps
    assert all(torch.isfinite(torch.tensor(history.loss))), "only the steps before the NaN are recorded"
    # the finished variant is readable; the diverged run is never mixed in
    assert [r["variant"] for r in nc.load_runs("mlp_head_depth", tmp_path, scale="tiny")] == [good.label] * 2


# ---------------------------------------------------------------- 9. a checkpoint of another configuration


# interrupt a run, change the preset's lr, then python -m ncutils run ... --resume: refused, naming the
# checkpoint; with --overwrite the variant starts afresh (there was no way but deleting it by hand)
def test_resume_refuses_a_checkpoint_of_another_configuration_unless_overwrite(tmp_path):
    preset = resumable("stacked")
    with pytest.raises(RuntimeError, match="crash"):
        nc.run_preset(preset, out=tmp_path, progress=False, on_record=stop_once_at(25, crash))
    checkpoint = checkpoint_of(tmp_path, preset)
    saved = checkpoint.read_bytes()
    other = dataclasses.replace(preset, variants=(dataclasses.replace(preset.variants[0], lr=0.01),))
    assert checkpoint_of(tmp_path, other) == checkpoint
    with pytest.raises(FileProblem, match="another configuration") as info:
        nc.run_preset(other, out=tmp_path, resume=True, progress=False)
    assert str(checkpoint) in str(info.value) and "--overwrite" in str(info.value)
    assert contents(checkpoint.parent) == [checkpoint.name] and checkpoint.read_bytes() == saved

    outputs = nc.run_preset(other, out=tmp_path, resume=True, overwrite=True, progress=False)
    assert [o.result["fingerprint"] for o in outputs] == [results.fingerprint(other)] * 2
    assert not checkpoint.exists()
    fresh = nc.run_preset(other, out=tmp_path / "fresh", progress=False)
    assert_same_runs(fresh, outputs)  # trained from the start: the other configuration's weights were not used
