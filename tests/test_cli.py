"""The command line, ``python -m ncutils list`` and ``python -m ncutils run``: results where they belong,
and every usage error as exit code 2 with argparse's usage line and ONE error line (no traceback).

Most tests call ``ncutils.__main__.main`` in this process (an exception would fail the test, so
no traceback can hide); where a crash or a traceback would only show in a real process (a damaged
data file, --threads beyond the cores, results of another configuration) they start
``python -m ncutils`` itself.

Reproduce: python -m pytest -n 0 -p no:cacheprovider tests/test_cli.py -q
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from subprocess import PIPE

import pytest
import torch
from shared_helpers import crash_at_step

import ncutils as nc
from ncutils import files, results
from ncutils.__main__ import main
from ncutils.catalogue import PRESET_NAMES, get_preset

ERROR = "python -m ncutils: error: "


pytestmark = pytest.mark.usefixtures("one_thread")  # runs of tiny presets, in tests/conftest.py


def cli(capsys, *argv):
    """``python -m ncutils ARGV`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    """The few real ``python -m ncutils run`` processes, started together so that their seconds of
    importing torch overlap: name -> (folder, exit code, stdout, stderr). Each runs in a folder of
    its own (its working directory), prepared by ``SETUPS[name](folder)``, which returns its arguments."""
    started = {}
    try:
        for name, setup in SETUPS.items():
            folder = tmp_path_factory.mktemp(name)
            argv = [sys.executable, "-m", "ncutils", *map(str, setup(folder))]
            env = {**os.environ, "CI": "true"}  # no progress bars
            started[name] = folder, subprocess.Popen(argv, cwd=folder, env=env, stdout=PIPE, stderr=PIPE, text=True)
        finished = {}
        for name, (folder, process) in started.items():
            out, err = process.communicate(timeout=300)
            finished[name] = folder, process.returncode, out, err
        return finished
    finally:
        for _, process in started.values():
            if process.poll() is None:  # only if something above failed
                process.kill()
                process.wait()


def the_error(err: str) -> str:
    """The one error line of a usage error, after argparse's usage line (wrapped on several
    indented lines); fails if anything else is there, a traceback in particular."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert lines and lines[0].startswith("usage: python -m ncutils run "), err
    assert all(line.startswith(" ") for line in lines[1:-1]), err  # the rest of the usage line
    assert lines[-1].startswith(ERROR), err
    return lines[-1].removeprefix(ERROR)


def tiny_args(out, *more):
    return ["run", "mlp_layerwise", "--scale", "tiny", "--out", out, *more]


# ---------------------------------------------------------------- list and run


# python -m ncutils list
def test_cli_list(capsys):
    code, out, err = cli(capsys, "list")
    assert code == 0 and not err
    assert all(name in out for name in PRESET_NAMES)


# python -m ncutils list --scale paper   (and --scale laptop)
@pytest.mark.parametrize("scale", ["paper", "laptop"])
def test_cli_list_with_a_scale(capsys, scale):
    code, out, _ = cli(capsys, "list", "--scale", scale)
    assert code == 0 and all(name in out for name in PRESET_NAMES)
    if scale == "paper":
        assert "GPU-hours (estimate" in out
    else:
        assert "(no laptop scale)" in out  # resnet_head_depth needs CIFAR-10


# python -m ncutils run mlp_layerwise --scale tiny --seeds 1 --out /tmp/r
def test_cli_run_writes_one_file_per_run_under_preset_and_scale(tmp_path, capsys):
    code, out, err = cli(capsys, *tiny_args(tmp_path, "--seeds", "1"))
    assert code == 0 and not err
    folder = tmp_path / "mlp_layerwise" / "tiny"
    assert out == f"wrote 1 result file(s) to {folder}\n"
    assert sorted(p.name for p in folder.iterdir()) == ["main_seed0.json"]
    run = json.loads((folder / "main_seed0.json").read_text())
    assert run["command"] == f"python -m ncutils run mlp_layerwise --scale tiny --out {tmp_path} --seeds 1"
    assert run["fingerprint"] == results.fingerprint(get_preset("mlp_layerwise", "tiny"))


# python -m ncutils run nope; ... --device cuda; ... --scale paper --data-root /nonexistent; ... --seeds 0
def test_cli_usage_errors_exit_2_with_one_line(tmp_path, capsys):
    code, _, err = cli(capsys, "run", "nope", "--out", tmp_path)
    assert code == 2 and "unknown preset 'nope'" in the_error(err)
    code, _, err = cli(capsys, "run", "mlp_layerwise", "--scale", "huge", "--out", tmp_path)
    assert code == 2 and "unknown scale 'huge'" in the_error(err)
    code, _, err = cli(capsys, "run", "resnet_head_depth", "--scale", "laptop", "--out", tmp_path)
    assert code == 2 and "no 'laptop' scale" in the_error(err)
    if not torch.cuda.is_available():
        code, _, err = cli(capsys, *tiny_args(tmp_path, "--device", "cuda"))
        assert code == 2 and "no CUDA GPU" in the_error(err)
    none = tmp_path / "none"
    code, _, err = cli(capsys, "run", "mlp_layerwise", "--scale", "paper", "--data-root", none, "--out", tmp_path)
    message = the_error(err)
    assert code == 2 and "train-images-idx3-ubyte" in message and str(none) in message
    code, _, err = cli(capsys, "run", "resnet_head_depth", "--scale", "paper", "--data-root", none, "--out", tmp_path)
    assert code == 2 and "data_batch_1" in the_error(err)
    code, _, err = cli(capsys, *tiny_args(tmp_path, "--seeds", "0"))
    assert code == 2 and "--seeds must be a positive integer" in the_error(err)
    with pytest.raises(SystemExit) as exit_info:  # argparse: a bad --device value
        main(["run", "mlp_layerwise", "--device", "tpu"])
    assert exit_info.value.code == 2
    assert not list(tmp_path.rglob("*.json"))


# ---------------------------------------------------------------- in real processes: 11, 10, 1


def too_many_threads(folder):
    return tiny_args("out", "--threads", "100000")


def damaged_mnist(folder):
    """A garbage images file beside a valid labels file (20 labels 0..9)."""
    data = folder / "data"
    data.mkdir()
    (data / "train-images-idx3-ubyte").write_bytes(b"this is not an IDX file" * 4)
    labels = bytes(i % 10 for i in range(20))
    (data / "train-labels-idx1-ubyte").write_bytes((2049).to_bytes(4, "big") + (20).to_bytes(4, "big") + labels)
    return ["run", "mlp_layerwise", "--scale", "paper", "--data-root", "data", "--out", "out"]


def shorter_tiny():
    return dataclasses.replace(get_preset("mlp_layerwise", "tiny"), steps=10)


def results_of_another_configuration(folder):
    nc.run_preset(shorter_tiny(), out=folder / "out", progress=False)
    return tiny_args(folder / "out")


SETUPS = {
    "threads": too_many_threads,
    "damaged_data": damaged_mnist,
    "other_configuration": results_of_another_configuration,
}


# python -m ncutils run mlp_layerwise --scale tiny --threads 100000   (used to segfault torch)
def test_cli_too_many_threads_is_a_usage_error(processes):
    folder, code, out, err = processes["threads"]
    assert code == 2 and not out
    assert the_error(err) == f"--threads must lie in 1..{os.cpu_count()} (this machine's CPU cores), got 100000"
    assert not (folder / "out").exists()


# mkdir d; echo junk > d/train-images-idx3-ubyte; printf '\0\0\10\1\0\0\0\1\3' > d/train-labels-idx1-ubyte; python -m ncutils run mlp_layerwise --scale paper --data-root d
# (a DataFileError used to escape the command line as a traceback)
def test_cli_a_damaged_mnist_file_is_one_line_naming_it(processes):
    folder, code, out, err = processes["damaged_data"]
    message = the_error(err)
    assert code == 2 and not out
    assert message.startswith(f"{os.path.join('data', 'train-images-idx3-ubyte')} is not a valid MNIST images file")
    assert not list(folder.rglob("*.json")) and not list(folder.rglob(".lock"))


# python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r into a folder holding results of the
# tiny preset with steps=10 (e.g. from an older ncutils): it used to overwrite them one file at a time
def test_cli_results_of_another_configuration_exit_2_unless_overwrite(processes, capsys):
    folder, code, out, err = processes["other_configuration"]
    message = the_error(err)
    assert code == 2 and not out
    assert message.startswith(f"{folder / 'out' / 'mlp_layerwise' / 'tiny'} holds results of another configuration")
    assert "steps: 10 there, 20 here" in message and "--overwrite" in message
    runs = nc.load_runs("mlp_layerwise", folder / "out", scale="tiny")
    assert [r["fingerprint"] for r in runs] == [results.fingerprint(shorter_tiny())] * 2, "left as they were"

    code, out, err = cli(capsys, *tiny_args(folder / "out", "--overwrite"))
    assert code == 0 and not err
    runs = nc.load_runs("mlp_layerwise", folder / "out", scale="tiny")
    assert [r["fingerprint"] for r in runs] == [results.fingerprint(get_preset("mlp_layerwise", "tiny"))] * 2


# ---------------------------------------------------------------- 4. seeds of an earlier run


# python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r && python -m ncutils run mlp_layerwise --scale tiny --seeds 1 --out /tmp/r
def test_cli_notes_seeds_left_by_an_earlier_run(tmp_path, capsys):
    assert cli(capsys, *tiny_args(tmp_path))[0] == 0
    code, out, err = cli(capsys, *tiny_args(tmp_path, "--seeds", "1"))
    assert code == 0 and not err
    folder = tmp_path / "mlp_layerwise" / "tiny"
    wrote, note = out.splitlines()
    assert wrote == f"wrote 1 result file(s) to {folder}"
    assert note.startswith(f"note: {folder} also holds seeds 1 of variant main from an earlier run")


# ---------------------------------------------------------------- 5. locks


# echo "$(hostname) $$" > /tmp/r/mlp_layerwise/tiny/.lock; python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r
def test_cli_a_locked_folder_exit_2_and_a_dead_lock_is_taken_over(tmp_path, capsys):
    folder = tmp_path / "mlp_layerwise" / "tiny"
    folder.mkdir(parents=True)
    lock = folder / ".lock"
    lock.write_text(f"{socket.gethostname()} {os.getpid()}")  # this process: alive
    code, out, err = cli(capsys, *tiny_args(tmp_path))
    message = the_error(err)
    assert code == 2 and not out
    assert f"{socket.gethostname()} {os.getpid()}" in message and str(lock) in message
    assert lock.exists() and not list(folder.glob("*.json"))

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(f"{socket.gethostname()} {int(finished.stdout)}")  # a process that has ended
    code, _, err = cli(capsys, *tiny_args(tmp_path))
    assert code == 0 and not err
    assert sorted(p.name for p in folder.iterdir()) == ["main_seed0.json", "main_seed1.json"], "no lock is left"


# ---------------------------------------------------------------- 6. an unusable --out


# touch /tmp/f; python -m ncutils run mlp_layerwise --scale paper --data-root /nonexistent --out /tmp/f
def test_cli_an_out_that_is_a_file_exit_2_before_any_data_is_loaded(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    for scale in ("tiny", "paper"):  # paper: its data are missing too, but --out is what is reported
        code, out, err = cli(
            capsys, "run", "mlp_layerwise", "--scale", scale, "--data-root", tmp_path / "none", "--out", afile
        )
        message = the_error(err)
        assert code == 2 and not out
        assert str(afile) in message and "choose another --out" in message and "MNIST" not in message


# mkdir /tmp/ro && chmod 500 /tmp/ro; python -m ncutils run mlp_layerwise --scale paper --data-root /nonexistent --out /tmp/ro
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions")
def test_cli_a_read_only_out_exit_2_before_any_data_is_loaded(tmp_path, capsys):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        code, _, err = cli(
            capsys, "run", "mlp_layerwise", "--scale", "paper", "--data-root", tmp_path / "none", "--out", readonly
        )
        message = the_error(err)
        assert code == 2 and "cannot write to" in message and str(readonly) in message and "MNIST" not in message
    finally:
        readonly.chmod(0o700)


# ---------------------------------------------------------------- 9. a checkpoint of another configuration


# a run of the tiny preset with steps=40 crashes after its checkpoint at step 20; then
# python -m ncutils run mlp_layerwise --scale tiny --out /tmp/r --resume   (refused; --overwrite starts afresh)
def test_cli_resume_from_a_checkpoint_of_another_configuration_exit_2_unless_overwrite(tmp_path, capsys):
    tiny = get_preset("mlp_layerwise", "tiny")
    longer = dataclasses.replace(tiny, steps=40, record_every=5, checkpoint_every=20)
    with pytest.raises(RuntimeError, match="crash"):
        nc.run_preset(longer, out=tmp_path, progress=False, on_record=crash_at_step(25))
    checkpoint = tmp_path / "mlp_layerwise" / "tiny" / "main.checkpoint.pt"
    assert files.load_checkpoint(checkpoint)["fingerprint"]["preset"] == results.fingerprint(longer)

    code, out, err = cli(capsys, *tiny_args(tmp_path, "--resume"))
    message = the_error(err)
    assert code == 2 and not out
    assert str(checkpoint) in message and "another configuration" in message and "--overwrite" in message
    assert checkpoint.exists() and not list(checkpoint.parent.glob("*.json"))

    code, _, err = cli(capsys, *tiny_args(tmp_path, "--resume", "--overwrite"))
    assert code == 0 and not err
    assert not checkpoint.exists()
    runs = nc.load_runs("mlp_layerwise", tmp_path, scale="tiny")
    fresh = nc.run_preset(tiny, out=tmp_path / "fresh", progress=False)
    as_stored = json.dumps  # tuples and lists alike, NaN equal to NaN, every float to the last bit
    assert [as_stored(r["history"]) for r in runs] == [as_stored(o.result["history"]) for o in fresh]
